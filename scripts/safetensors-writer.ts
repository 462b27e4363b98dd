// Writes safetensors files (tests and gen-checkpoint): a header for a list of tensors, and whole small files.
export interface TensorSpec {
  name: string;
  dtype: string;
  shape: number[];
  /** Byte size of the data; defaults to elements × dtype size for F16/BF16/F32. */
  bytes?: number;
}

const SIZES: Record<string, number> = { F16: 2, BF16: 2, F32: 4, I8: 1, U8: 1, I32: 4, I64: 8, F64: 8 };

export function tensorBytes(t: TensorSpec): number {
  return t.bytes ?? t.shape.reduce((a, b) => a * b, 1) * (SIZES[t.dtype] ?? 1);
}

/**
 * The 8-byte length + JSON header (padded with spaces to a multiple of 8, as the reference writer does) for tensors
 * laid out back to back in the given order. `raw` replaces the JSON (for broken-file tests).
 */
export function safetensorsHeader(tensors: TensorSpec[], opts: { raw?: unknown; metadata?: Record<string, string> } = {}): Uint8Array {
  let json: unknown = opts.raw;
  if (json === undefined) {
    const h: Record<string, unknown> = {};
    if (opts.metadata) h.__metadata__ = opts.metadata;
    let o = 0;
    for (const t of tensors) {
      const n = tensorBytes(t);
      h[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [o, o + n] };
      o += n;
    }
    json = h;
  }
  let text = typeof json === 'string' ? json : JSON.stringify(json);
  while ((8 + new TextEncoder().encode(text).length) % 8) text += ' ';
  const body = new TextEncoder().encode(text);
  const out = new Uint8Array(8 + body.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(body.length), true);
  out.set(body, 8);
  return out;
}

/** A whole file: header then each tensor's bytes (given, or zeros). */
export function safetensorsFile(tensors: (TensorSpec & { data?: Uint8Array })[], opts: { raw?: unknown } = {}): Uint8Array {
  const header = safetensorsHeader(tensors, opts);
  const total = header.length + tensors.reduce((a, t) => a + tensorBytes(t), 0);
  const out = new Uint8Array(total);
  out.set(header);
  let o = header.length;
  for (const t of tensors) {
    if (t.data) out.set(t.data.subarray(0, tensorBytes(t)), o);
    o += tensorBytes(t);
  }
  return out;
}
