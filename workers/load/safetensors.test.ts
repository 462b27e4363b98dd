import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { serveDir, type ServeDirHandle } from '../testing/http-server.ts';
import { safetensorsFile, safetensorsHeader } from '../../scripts/safetensors-writer.ts';
import { EngineError } from '../errors.ts';
import { parseHeader, readSafetensorsHeader, readTensorMap } from './safetensors.ts';

let dir: string;
let server: ServeDirHandle;
const fast = { retries: 1, backoffMs: 1 };

function put(name: string, bytes: Uint8Array): string {
  writeFileSync(join(dir, name), bytes);
  return server.url + name;
}

async function failure(p: Promise<unknown>): Promise<EngineError> {
  const e = await p.then(() => null, (e: unknown) => e);
  expect(e).toBeInstanceOf(EngineError);
  return e as EngineError;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'st-test-'));
  server = await serveDir(dir);
});
afterAll(() => server.close());
beforeEach(() => {
  server.misbehave = {};
  server.log.length = 0;
});

/** The file with its header length changed by `delta` (the bytes kept as they are). */
function headerLengthOff(file: Uint8Array, delta: number): Uint8Array {
  const out = file.slice();
  const v = new DataView(out.buffer);
  v.setBigUint64(0, v.getBigUint64(0, true) + BigInt(delta), true);
  return out;
}

const good = [
  { name: 'b.weight', dtype: 'BF16', shape: [4, 3] },
  { name: 'a.weight', dtype: 'F32', shape: [5] },
  { name: 'c.weight', dtype: 'F16', shape: [2, 2, 2] },
  { name: 'empty', dtype: 'F16', shape: [0] },
];

describe('safetensors headers', () => {
  it('reads a header with range requests only and maps tensors to absolute byte ranges', async () => {
    const bytes = safetensorsFile(good.concat([{ name: 'pad', dtype: 'F32', shape: [100_000] }]));
    const url = put('good.safetensors', bytes);
    const f = await readSafetensorsHeader(url, fast);
    const ds = f.dataStart;
    expect(f.size).toBe(bytes.length);
    expect(f.rangeSupported).toBe(true);
    expect(f.tensors.slice(0, 3)).toEqual([
      { name: 'b.weight', dtype: 'BF16', shape: [4, 3], file: url, start: ds, end: ds + 24 },
      { name: 'a.weight', dtype: 'F32', shape: [5], file: url, start: ds + 24, end: ds + 44 },
      { name: 'c.weight', dtype: 'F16', shape: [2, 2, 2], file: url, start: ds + 44, end: ds + 60 },
    ]);
    expect(server.log.every((l) => l.status === 206)).toBe(true);
    expect(server.log.reduce((a, l) => a + l.bytesSent, 0)).toBeLessThan(bytes.length);
  });

  it('ignores __metadata__ and reads a header longer than the first read', async () => {
    const many = Array.from({ length: 8000 }, (_, i) => ({ name: `layer.${i}.weight_with_a_long_name`, dtype: 'F16', shape: [2] }));
    const url = put('long.safetensors', safetensorsFile(many, {}));
    const h = safetensorsHeader(many, { metadata: { format: 'pt' } });
    expect(h.length).toBeGreaterThan(256 * 1024);
    const f = await readSafetensorsHeader(url, fast);
    expect(f.tensors.length).toBe(8000);
    expect(server.log.length).toBe(2);
  });

  it('reads the header from a server that ignores Range', async () => {
    server.misbehave = { ignoreRange: true };
    const url = put('norange.safetensors', safetensorsFile(good));
    const f = await readSafetensorsHeader(url, fast);
    expect(f.rangeSupported).toBe(false);
    expect(f.tensors.length).toBe(4);
  });

  const broken: [string, Uint8Array, RegExp, string, string?][] = [
    ['malformed JSON', safetensorsHeader([], { raw: '{"a": ' }), /not valid JSON/, 'bad-file'],
    ['a JSON array', safetensorsHeader([], { raw: [1, 2] }), /not a JSON object/, 'bad-file'],
    ['unsupported dtype', safetensorsFile([{ name: 'q', dtype: 'I8', shape: [4] }]), /'q' has dtype I8/, 'unsupported', 'q'],
    ['unknown dtype', safetensorsFile([{ name: 'q', dtype: 'Q4_K', shape: [4], bytes: 4 }]), /unknown dtype 'Q4_K'/, 'unsupported', 'q'],
    ['span mismatch', safetensorsFile([{ name: 'w', dtype: 'F32', shape: [4], bytes: 12 }]), /needs 16 bytes but its data_offsets span 12/, 'bad-file', 'w'],
    ['malformed shape', safetensorsHeader([], { raw: { w: { dtype: 'F16', shape: [-1], data_offsets: [0, 2] } } }), /malformed shape/, 'bad-file', 'w'],
    ['malformed offsets', safetensorsHeader([], { raw: { w: { dtype: 'F16', shape: [1], data_offsets: [2, 0] } } }), /malformed data_offsets/, 'bad-file', 'w'],
    ['overlap', concat(safetensorsHeader([], { raw: { x: { dtype: 'F16', shape: [4], data_offsets: [0, 8] }, y: { dtype: 'F16', shape: [2], data_offsets: [4, 8] } } }), new Uint8Array(8)), /'x' and 'y' overlap/, 'bad-file', 'y'],
    ['out of file', safetensorsHeader([], { raw: { w: { dtype: 'F16', shape: [4], data_offsets: [0, 8] } } }), /past the end of the file/, 'bad-file', 'w'],
    ['absurd header length', new Uint8Array([0, 0, 0, 0, 0, 0, 0, 1, 0, 0]), /header length .* not plausible/, 'bad-file'],
    ['header past the end', concat(new Uint8Array([100, 0, 0, 0, 0, 0, 0, 0]), new Uint8Array(10)), /ends at byte 108, past the end of the file \(18 bytes\)/, 'bad-file'],
    ['a gap between tensors', concat(safetensorsHeader([], { raw: { x: { dtype: 'F16', shape: [2], data_offsets: [0, 4] }, y: { dtype: 'F16', shape: [2], data_offsets: [6, 10] } } }), new Uint8Array(10)), /bytes 4–6 of its data belong to no tensor \(before 'y'\)/, 'bad-file', 'y'],
    ['data not from the first byte', concat(safetensorsHeader([], { raw: { x: { dtype: 'F16', shape: [2], data_offsets: [2, 6] } } }), new Uint8Array(6)), /bytes 0–2 of its data belong to no tensor/, 'bad-file', 'x'],
    ['bytes after the last tensor', concat(safetensorsFile([{ name: 'w', dtype: 'F16', shape: [2] }]), new Uint8Array(1)), /data ends at byte \d+ but the file has \d+ bytes/, 'bad-file'],
    ['a header length one short (its JSON still parses: padding)', headerLengthOff(safetensorsFile([{ name: 'w', dtype: 'F16', shape: [4] }]), -1), /data ends at byte \d+ but the file has \d+ bytes/, 'bad-file'],
    ['too short', new Uint8Array(4), /too short/, 'bad-file'],
  ];
  it.each(broken)('refuses %s naming the file and tensor', async (label, bytes, message, code, tensor) => {
    const url = put(`broken-${label.replace(/ /g, '-')}.safetensors`, bytes);
    const e = await failure(readSafetensorsHeader(url, fast));
    expect(e.message).toMatch(message);
    expect(e.code).toBe(code);
    expect(e.details.file).toBe(url);
    expect(e.details.tensor).toBe(tensor);
  });

  it('parseHeader validates without the network', () => {
    expect(() => parseHeader('f', { w: { dtype: 'F64', shape: [1], data_offsets: [0, 8] } }, 8, 16)).toThrow(/dtype F64/);
    expect(parseHeader('f', { __metadata__: { x: 'y' } }, 8, 8)).toEqual([]);
  });

  it('a dtype named like an Object.prototype key is an unknown dtype, not a size of NaN bytes', () => {
    for (const dtype of ['constructor', 'toString', '__proto__', 'valueOf']) {
      let e: unknown;
      try {
        parseHeader('f', { w: { dtype, shape: [2], data_offsets: [0, 4] } }, 8, 12);
      } catch (x) {
        e = x;
      }
      expect(e).toBeInstanceOf(EngineError);
      expect((e as EngineError).code).toBe('unsupported');
      expect((e as EngineError).message).toContain(`unknown dtype '${dtype}'`);
      expect((e as EngineError).details).toMatchObject({ tensor: 'w', dtype });
    }
  });
});

describe('tensor map across shards', () => {
  it('joins shards and checks them against the index', async () => {
    const a = put('s-1.safetensors', safetensorsFile([{ name: 'x', dtype: 'F16', shape: [2] }]));
    const b = put('s-2.safetensors', safetensorsFile([{ name: 'y', dtype: 'F16', shape: [2] }]));
    const m = await readTensorMap([a, b], fast, new Map([['x', a], ['y', b]]));
    expect([...m.tensors.keys()]).toEqual(['x', 'y']);
    expect(m.tensors.get('y')!.file).toBe(b);
    const missing = await failure(readTensorMap([a, b], fast, new Map([['x', a], ['z', b]])));
    expect(missing.message).toMatch(/'z' is listed in the index but missing/);
    expect(missing.details).toMatchObject({ file: b, tensor: 'z' });
    const dup = await failure(readTensorMap([a, a], fast));
    expect(dup.message).toMatch(/also in/);
  });

  it('a missing shard is a 404 naming it', async () => {
    const e = await failure(readTensorMap([server.url + 'nope.safetensors'], fast));
    expect(e.details).toMatchObject({ status: 404, file: server.url + 'nope.safetensors' });
  });
});

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const o = new Uint8Array(a.length + b.length);
  o.set(a);
  o.set(b, a.length);
  return o;
}

describe('bounds on a header, checked before its work', () => {
  const tiny = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `pad.${i}`, dtype: 'F16', shape: [1] }));

  it('a checkpoint padded with 300k tiny tensors is refused by its header length, before the header is read', async () => {
    const url = put('padded.safetensors', safetensorsFile(tiny(300_000)));
    const t0 = performance.now();
    const e = await failure(readSafetensorsHeader(url, fast));
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(e.code).toBe('bad-file');
    expect(e.message).toMatch(/header length \d+ is not plausible \(limit 16777216\)/);
    // the first read only (256 KiB), never the ~20 MB header
    expect(server.log.reduce((a, l) => a + l.bytesSent, 0)).toBeLessThanOrEqual(256 * 1024);
  });

  it('a header within the length limit that lists more tensors than a checkpoint may hold is refused by count', async () => {
    const url = put('many.safetensors', safetensorsFile(tiny(70_000)));
    const e = await failure(readSafetensorsHeader(url, fast));
    expect(e.message).toMatch(/lists 70000 tensors, more than the 65536/);
  });

  it('the tensor count holds for all the files of a checkpoint together', async () => {
    const a = put('a-of-2.safetensors', safetensorsFile(tiny(40_000)));
    const b = put('b-of-2.safetensors', safetensorsFile(tiny(40_000).map((t) => ({ ...t, name: 'b' + t.name }))));
    const e = await failure(readTensorMap([a, b], fast));
    expect(e.details.file).toBe(b);
    expect(e.message).toMatch(/80000 tensors so far, more than the 65536/);
  });
});
