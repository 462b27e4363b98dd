// Weights that one product reads as one — q, k and v (rows stacked) and gate and up (rows interleaved in blocks) —
// built when the weights are built, by copying the loaded tensors' rows on the GPU into new buffers (split across
// storage bindings where needed, only between whole blocks of `rowMultiple` rows), after which the loaded tensors are
// released: the model still holds each weight once, and for a moment one layer's q/k/v or gate/up twice. The same
// copy gives rows a whole number of vec4 words (the one-token products read 16 bytes at a time) where a checkpoint's
// row length is not a multiple of 8 halves or 16 int8.
import { EngineError } from '../errors.ts';
import type { GpuContext } from '../gpu/device.ts';
import type { BufferGroup } from '../gpu/ledger.ts';
import type { GpuTensor, TensorPart } from '../gpu/tensor.ts';

/** `rows` rows of source `source` from row `row`, next in the output. */
export interface RowSegment {
  source: number;
  row: number;
  rows: number;
}

/** The sources' rows one after another. */
export function stackedRows(rows: readonly number[]): RowSegment[] {
  return rows.map((n, source) => ({ source, row: 0, rows: n }));
}

/** Sources of `rows` rows each, interleaved in blocks: block 0 of each source, then block 1 of each, … */
export function interleavedRows(sources: number, rows: number, block: number): RowSegment[] {
  const out: RowSegment[] = [];
  for (let row = 0; row < rows; row += block) for (let source = 0; source < sources; source++) out.push({ source, row, rows: block });
  return out;
}

/** u32 words per row the one-token products read: a whole number of vec4. */
export function vec4Words(rowWords: number): number {
  return Math.ceil(rowWords / 4) * 4;
}

/** True when `t` can be read as it is: rows of whole vec4 words and no part starting inside a block. */
export function readsAsIs(t: GpuTensor, rowMultiple: number): boolean {
  return t.rowWords % 4 === 0 && t.parts.every((p) => p.rowStart % rowMultiple === 0);
}

function partOf(t: GpuTensor, row: number): TensorPart {
  const p = t.parts.find((q) => row >= q.rowStart && row < q.rowStart + q.rows);
  if (!p) throw new Error(`tensor '${t.name}': no part holds row ${row}`);
  return p;
}

/**
 * Records into `enc` the copy of `segments` of `sources` (same format and row length) into a new tensor `name` created
 * through `group`, rows padded to whole vec4 words, parts of at most maxBindingBytes starting at multiples of
 * rowMultiple rows.
 */
export function concatRows(
  enc: GPUCommandEncoder,
  group: BufferGroup,
  name: string,
  sources: readonly GpuTensor[],
  segments: readonly RowSegment[],
  opts: { maxBindingBytes: number; rowMultiple: number },
): GpuTensor {
  const first = sources[0];
  const k = first.shape[1];
  for (const s of sources) {
    if (s.format !== first.format || s.shape.length !== 2 || s.shape[1] !== k || s.rowWords !== first.rowWords) {
      throw new Error(`concatRows '${name}': '${s.name}' is ${s.format} [${s.shape}], not ${first.format} [*, ${k}] like '${first.name}'`);
    }
  }
  const srcWords = first.rowWords;
  const rowWords = vec4Words(srcWords);
  const total = segments.reduce((n, s) => n + s.rows, 0);
  const fit = Math.floor(opts.maxBindingBytes / (rowWords * 4));
  const perPart = Math.min(total, fit - (fit % opts.rowMultiple));
  if (perPart < 1) throw new EngineError('will-not-fit', `a block of ${opts.rowMultiple} rows of '${name}' exceeds one storage binding (${opts.maxBindingBytes} bytes)`, { tensor: name });
  const parts: TensorPart[] = [];
  for (let rowStart = 0; rowStart < total; rowStart += perPart) {
    const rows = Math.min(perPart, total - rowStart);
    const label = rowStart === 0 && rows === total ? name : `${name}[rows ${rowStart}..${rowStart + rows})`;
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
    parts.push({ buffer: group.createBuffer({ label, size: rows * rowWords * 4, usage, category: 'weights' }), rowStart, rows });
  }
  const out: GpuTensor = { name, shape: [total, k], format: first.format, rowWords, parts };
  let dst = 0;
  for (const seg of segments) {
    const src = sources[seg.source];
    for (let i = 0; i < seg.rows; ) {
      const sp = partOf(src, seg.row + i);
      const dp = partOf(out, dst + i);
      // a run of rows inside one source part and one destination part
      const run = Math.min(seg.rows - i, sp.rowStart + sp.rows - (seg.row + i), dp.rowStart + dp.rows - (dst + i));
      const srcOffset = (seg.row + i - sp.rowStart) * srcWords * 4;
      const dstOffset = (dst + i - dp.rowStart) * rowWords * 4;
      if (rowWords === srcWords) enc.copyBufferToBuffer(sp.buffer, srcOffset, dp.buffer, dstOffset, run * rowWords * 4);
      else for (let r = 0; r < run; r++) enc.copyBufferToBuffer(sp.buffer, srcOffset + r * srcWords * 4, dp.buffer, dstOffset + r * rowWords * 4, srcWords * 4);
      i += run;
    }
    dst += seg.rows;
  }
  return out;
}

/** Records the copy of per-row f32 vectors (int8 scales: one buffer each) in the order of `segments`. */
export function concatRowScales(enc: GPUCommandEncoder, group: BufferGroup, name: string, sources: readonly GPUBuffer[], segments: readonly RowSegment[]): GPUBuffer {
  const total = segments.reduce((n, s) => n + s.rows, 0);
  const out = group.createBuffer({ label: `${name}.scales`, size: total * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC, category: 'scales' });
  let dst = 0;
  for (const seg of segments) {
    enc.copyBufferToBuffer(sources[seg.source], seg.row * 4, out, dst * 4, seg.rows * 4);
    dst += seg.rows;
  }
  return out;
}

/**
 * Records the copy of fp16 biases (f16x2 [rows], one part each) in the order of `segments`, or gives null when none
 * has one, or the one bias itself when one segment is all of it. Segments must cover whole u32 words (even rows), as
 * every q/k/v and gate/up split does.
 */
export function concatBiases(
  enc: GPUCommandEncoder,
  group: BufferGroup,
  name: string,
  sources: readonly (GpuTensor | null)[],
  segments: readonly RowSegment[],
): GpuTensor | null {
  if (sources.every((b) => b === null)) return null;
  const total = segments.reduce((n, s) => n + s.rows, 0);
  const only = segments.length === 1 ? sources[segments[0].source] : null;
  if (only && segments[0].row === 0 && only.shape[0] === total) return only;
  for (const seg of segments) {
    const b = sources[seg.source];
    if (!b || b.format !== 'f16x2' || b.parts.length !== 1) throw new Error(`concatBiases '${name}': source ${seg.source} has no one-part fp16 bias`);
    if (seg.row % 2 !== 0 || seg.rows % 2 !== 0) {
      throw new EngineError('unsupported', `the biases of '${name}' cannot be joined at odd rows (${seg.row}, ${seg.rows})`, { tensor: name });
    }
  }
  const buffer = group.createBuffer({ label: `${name}.bias`, size: Math.ceil(total / 2) * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC, category: 'weights' });
  let dst = 0;
  for (const seg of segments) {
    enc.copyBufferToBuffer(sources[seg.source]!.parts[0].buffer, seg.row * 2, buffer, dst * 2, seg.rows * 2);
    dst += seg.rows;
  }
  return { name: `${name}.bias`, shape: [total], format: 'f16x2', rowWords: Math.ceil(total / 2), parts: [{ buffer, rowStart: 0, rows: 1 }] };
}

/** Releases a loaded tensor's buffers from the group that owns them (buffers already released are skipped). */
export function releaseTensor(ctx: GpuContext, t: GpuTensor | null): void {
  for (const p of t?.parts ?? []) ctx.ledger.ownerOf(p.buffer)?.release(p.buffer);
}
