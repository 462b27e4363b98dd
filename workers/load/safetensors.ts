// safetensors headers, read with range requests only: 8 bytes of little-endian header length, then a JSON header
// {name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?: {...}}, then the tensor data.
// Loading is lazy (lit-llama's NotYetLoadedTensor): a header becomes records of {name, dtype, shape, byte range} and
// bytes are fetched only when the loader streams that tensor to its GPU buffer.
import { EngineError } from '../errors.ts';
import { SUPPORTED_DTYPES, type TensorDtype } from '../gpu/dtypes.ts';
import { fileName, readPrefix, type HttpOptions, type PrefixRead } from '../net/http.ts';

/** Reads the first `n` bytes of a file: http.readPrefix, or a cache that has them (load/load-model.ts). */
export type PrefixReader = (url: string, n: number, opts: HttpOptions) => Promise<PrefixRead>;

/** Every dtype the safetensors format defines, so an unsupported one is refused by name rather than as garbage. */
const KNOWN_DTYPES = new Set([
  'BOOL', 'U8', 'I8', 'F8_E5M2', 'F8_E4M3', 'F8_E8M0', 'F4', 'F6_E2M3', 'F6_E3M2', 'I16', 'U16', 'F16', 'BF16',
  'I32', 'U32', 'F32', 'I64', 'U64', 'F64', 'C64',
]);

/**
 * Headers larger than this are refused before they are read (the reference implementation allows 100 MB; a real
 * checkpoint's header is a few hundred KiB, a single-file MoE's a few MiB), so a hostile header costs no more than this.
 */
export const MAX_HEADER_BYTES = 16 * 1024 * 1024;
/** A checkpoint (all its files together) with more tensors than this is refused (a 1024-layer Llama has ~12k). */
export const MAX_TENSORS = 1 << 16;
/** First read: the length and, for most checkpoints, the whole header in one request. */
const FIRST_READ_BYTES = 256 * 1024;

/** One tensor of a checkpoint, not yet loaded. start/end are absolute byte offsets in `file`. */
export interface TensorRecord {
  readonly name: string;
  readonly dtype: TensorDtype;
  readonly shape: readonly number[];
  readonly file: string;
  readonly start: number;
  readonly end: number;
}

export interface SafetensorsFile {
  url: string;
  /** File size (from Content-Range; from Content-Length when the server ignores Range). */
  size: number;
  /** Absolute offset of the first data byte (8 + header length). */
  dataStart: number;
  rangeSupported: boolean;
  /** Records sorted by start offset. */
  tensors: TensorRecord[];
}

export interface TensorMap {
  files: SafetensorsFile[];
  tensors: Map<string, TensorRecord>;
}

function badFile(file: string, message: string, tensor?: string): EngineError {
  return new EngineError('bad-file', `${fileName(file)}: ${message}`, tensor ? { file, tensor } : { file });
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/**
 * Validates a parsed header strictly and returns its records (sorted by offset). `fileSize` null skips the
 * end-of-file check (a server that gave no size; the stream then checks for a short file).
 */
export function parseHeader(file: string, headerJson: unknown, dataStart: number, fileSize: number | null): TensorRecord[] {
  if (typeof headerJson !== 'object' || headerJson === null || Array.isArray(headerJson)) {
    throw badFile(file, 'the safetensors header is not a JSON object');
  }
  const records: TensorRecord[] = [];
  for (const [name, raw] of Object.entries(headerJson as Record<string, unknown>)) {
    if (name === '__metadata__') continue;
    const info = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof info !== 'object' || info === null) throw badFile(file, `tensor '${name}' has no description`, name);
    const { dtype, shape, data_offsets: offsets } = info;
    if (typeof dtype !== 'string') throw badFile(file, `tensor '${name}' has no dtype`, name);
    if (!Object.hasOwn(SUPPORTED_DTYPES, dtype)) {
      const known = KNOWN_DTYPES.has(dtype) ? `dtype ${dtype}` : `unknown dtype '${dtype}'`;
      throw new EngineError(
        'unsupported',
        `${fileName(file)}: tensor '${name}' has ${known}; only F16, BF16 and F32 checkpoints can be loaded`,
        { file, tensor: name, dtype },
      );
    }
    if (!Array.isArray(shape) || !shape.every(isCount)) throw badFile(file, `tensor '${name}' has a malformed shape`, name);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[0] > offsets[1]) {
      throw badFile(file, `tensor '${name}' has malformed data_offsets`, name);
    }
    const elements = shape.reduce((a: number, b: number) => a * b, 1);
    const want = elements * SUPPORTED_DTYPES[dtype as TensorDtype];
    const span = offsets[1] - offsets[0];
    if (want !== span) {
      throw badFile(
        file,
        `tensor '${name}' (${dtype} [${shape.join(', ')}]) needs ${want} bytes but its data_offsets span ${span}`,
        name,
      );
    }
    const start = dataStart + offsets[0];
    const end = dataStart + offsets[1];
    if (fileSize !== null && end > fileSize) {
      throw badFile(file, `tensor '${name}' ends at byte ${end}, past the end of the file (${fileSize} bytes)`, name);
    }
    records.push({ name, dtype: dtype as TensorDtype, shape: [...shape], file, start, end });
  }
  records.sort((a, b) => a.start - b.start || a.end - b.end);
  // As the reference implementation (safetensors' Metadata::validate and read_metadata): the tensors' data, in offset
  // order, covers the data section from its first byte to the end of the file, without overlap, gap or trailing bytes.
  // So a header length that is off (its JSON still parsing, as padding spaces do) cannot shift every tensor unnoticed.
  let at = dataStart;
  for (let i = 0; i < records.length; i++) {
    const cur = records[i];
    if (cur.start < at) throw badFile(file, `tensors '${records[i - 1].name}' and '${cur.name}' overlap in the file`, cur.name);
    if (cur.start > at) {
      throw badFile(
        file,
        `bytes ${at - dataStart}–${cur.start - dataStart} of its data belong to no tensor (before '${cur.name}'): data_offsets must cover the data without gaps`,
        cur.name,
      );
    }
    at = cur.end;
  }
  if (fileSize !== null && at !== fileSize) {
    throw badFile(
      file,
      `its tensors' data ends at byte ${at} but the file has ${fileSize} bytes: the header length or the data_offsets are wrong`,
    );
  }
  return records;
}

/** Reads and validates one file's header: one range request for most files, two for very large headers. */
export async function readSafetensorsHeader(url: string, opts: HttpOptions = {}, read: PrefixReader = readPrefix): Promise<SafetensorsFile> {
  const first = await read(url, FIRST_READ_BYTES, opts);
  if (first.bytes.length < 8) throw badFile(url, `the file is ${first.bytes.length} bytes, too short for a header`);
  const view = new DataView(first.bytes.buffer, first.bytes.byteOffset, 8);
  const n = Number(view.getBigUint64(0, true));
  if (n < 2 || n > MAX_HEADER_BYTES) {
    throw badFile(url, `the header length ${n} is not plausible (limit ${MAX_HEADER_BYTES}); not a safetensors file?`);
  }
  const dataStart = 8 + n;
  const size = first.size;
  if (size !== null && dataStart > size) {
    throw badFile(url, `the header claims ${n} bytes, so it ends at byte ${dataStart}, past the end of the file (${size} bytes)`);
  }
  let headerBytes: Uint8Array;
  if (first.bytes.length >= dataStart) {
    headerBytes = first.bytes.subarray(8, dataStart);
  } else {
    const rest = await read(url, dataStart, opts);
    if (rest.bytes.length < dataStart) throw badFile(url, `the file ends inside its ${n}-byte header`);
    headerBytes = rest.bytes.subarray(8, dataStart);
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (e) {
    throw badFile(url, `the header is not valid JSON (${(e as Error).message})`);
  }
  const listed = typeof json === 'object' && json !== null ? Object.keys(json).filter((k) => k !== '__metadata__').length : 0;
  if (listed > MAX_TENSORS) throw badFile(url, `the header lists ${listed} tensors, more than the ${MAX_TENSORS} a checkpoint may hold`);
  const tensors = parseHeader(url, json, dataStart, size);
  const lastEnd = tensors.length ? tensors[tensors.length - 1].end : dataStart;
  return { url, size: size ?? lastEnd, dataStart, rangeSupported: first.rangeSupported, tensors };
}

/**
 * Reads every file's header and builds one tensor map. `expected` (from model.safetensors.index.json's weight_map,
 * name → file URL) must agree with the headers: a missing tensor, or one found in another file, is an error.
 */
export async function readTensorMap(
  urls: readonly string[],
  opts: HttpOptions = {},
  expected?: ReadonlyMap<string, string>,
  read?: PrefixReader,
): Promise<TensorMap> {
  const files: SafetensorsFile[] = [];
  const tensors = new Map<string, TensorRecord>();
  for (const url of urls) {
    const f = await readSafetensorsHeader(url, opts, read);
    if (tensors.size + f.tensors.length > MAX_TENSORS) {
      throw badFile(url, `the checkpoint's files list ${tensors.size + f.tensors.length} tensors so far, more than the ${MAX_TENSORS} a checkpoint may hold`);
    }
    for (const t of f.tensors) {
      const seen = tensors.get(t.name);
      if (seen) throw badFile(url, `tensor '${t.name}' is also in ${fileName(seen.file)}`, t.name);
      tensors.set(t.name, t);
    }
    files.push(f);
  }
  if (expected) {
    for (const [name, file] of expected) {
      const t = tensors.get(name);
      if (!t) throw badFile(file, `tensor '${name}' is listed in the index but missing from ${fileName(file)}`, name);
      if (t.file !== file) throw badFile(t.file, `tensor '${name}' is in ${fileName(t.file)}, the index says ${fileName(file)}`, name);
    }
  }
  return { files, tensors };
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
