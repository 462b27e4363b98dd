// How a checkpoint stored differently from the names the engine reads (model/tensor-names.ts) maps onto them, before
// anything is planned or fetched:
// - Phi-3 stores q/k/v as one qkv_proj and gate/up as one gate_up_proj: their rows are contiguous in the file, so each
//   becomes records of its own over row ranges of the fused one (q_proj rows 0 .. qDim, k_proj, v_proj; gate_proj then
//   up_proj, the order transformers' Phi3MLP chunks them in). Every strategy, the plan, the int8 quantization (row-wise
//   scales: the same rows as the fused matrix's) and the cache's int8 weights then see ordinary linears.
// - Gemma 3's multimodal checkpoints keep the language model under language_model.model.* (transformers 4.5x) or
//   model.language_model.* (5.x) beside a vision tower: the language model's records are renamed to model.*, and the
//   vision tower and projector are left out (text only).
import { EngineError } from '../errors.ts';
import type { Config } from '../model/config.ts';
import { SUPPORTED_DTYPES } from '../gpu/dtypes.ts';
import type { TensorMap, TensorRecord } from './safetensors.ts';

/** The language model's prefixes in multimodal checkpoints, and what they become. */
const TEXT_PREFIXES: readonly (readonly [string, string])[] = [
  ['language_model.model.', 'model.'],
  ['model.language_model.', 'model.'],
  ['language_model.lm_head.', 'lm_head.'],
];

/**
 * Rows [from, from + rows) of a 2-D record (or elements of a 1-D one) as a record of its own named `name`: bytes
 * from + rows rows into the same file.
 */
function rowRange(r: TensorRecord, name: string, from: number, rows: number): TensorRecord {
  const rowBytes = (r.shape.length === 1 ? 1 : r.shape[1]) * SUPPORTED_DTYPES[r.dtype];
  const shape = r.shape.length === 1 ? [rows] : [rows, r.shape[1]];
  return { name, dtype: r.dtype, shape, file: r.file, start: r.start + from * rowBytes, end: r.start + (from + rows) * rowBytes };
}

/** Phi-3's fused projections of one record as the records of their parts (or the record itself). */
function splitFused(c: Config, r: TensorRecord): TensorRecord[] {
  const m = /^(model\.layers\.\d+)\.(self_attn\.qkv_proj|mlp\.gate_up_proj)\.(weight|bias)$/.exec(r.name);
  if (!m) return [r];
  const [, layer, module, kind] = m;
  const parts: [string, number][] =
    module === 'self_attn.qkv_proj'
      ? [
          ['self_attn.q_proj', c.qDim],
          ['self_attn.k_proj', c.kvDim],
          ['self_attn.v_proj', c.kvDim],
        ]
      : [
          ['mlp.gate_proj', c.hiddenDim],
          ['mlp.up_proj', c.hiddenDim],
        ];
  const rows = parts.reduce((a, [, n]) => a + n, 0);
  const want = kind === 'weight' ? [rows, c.dim] : [rows];
  if (r.shape.length !== want.length || r.shape.some((d, i) => d !== want[i])) {
    throw new EngineError('bad-file', `tensor '${r.name}' has shape [${r.shape.join(', ')}], but config.json implies [${want.join(', ')}]`, {
      file: r.file,
      tensor: r.name,
    });
  }
  let from = 0;
  return parts.map(([name, n]) => {
    const part = rowRange(r, `${layer}.${name}.${kind}`, from, n);
    from += n;
    return part;
  });
}

export interface CheckpointTensors {
  map: TensorMap;
  /** What was left out or taken apart, for the plan's notes. */
  notes: string[];
}

/** The checkpoint's records as the engine reads them (see the file's head); a Llama-style checkpoint passes as is. */
export function checkpointTensors(c: Config, map: TensorMap): CheckpointTensors {
  const notes: string[] = [];
  const multimodal = c.architecture === 'Gemma3ForConditionalGeneration';
  if (!multimodal && !c.fusedProjections) return { map, notes };
  let skipped = 0;
  let skippedBytes = 0;
  let fused = 0;
  const rewrite = (r: TensorRecord): TensorRecord[] => {
    let rec = r;
    if (multimodal) {
      const prefix = TEXT_PREFIXES.find(([from]) => r.name.startsWith(from));
      if (!prefix) {
        skipped++;
        skippedBytes += r.end - r.start;
        return [];
      }
      rec = { ...r, name: prefix[1] + r.name.slice(prefix[0].length) };
    }
    if (!c.fusedProjections) return [rec];
    const parts = splitFused(c, rec);
    if (parts.length > 1) fused++;
    return parts;
  };
  const files = map.files.map((f) => ({ ...f, tensors: f.tensors.flatMap(rewrite) }));
  const tensors = new Map<string, TensorRecord>();
  for (const f of files) {
    for (const r of f.tensors) {
      if (tensors.has(r.name)) {
        throw new EngineError('bad-file', `the checkpoint holds '${r.name}' twice (once fused or under another prefix)`, { file: r.file, tensor: r.name });
      }
      tensors.set(r.name, r);
    }
  }
  if (skipped > 0) notes.push(`text only: the vision tower and projector (${skipped} tensors, ${(skippedBytes / 2 ** 20).toFixed(1)} MiB) are not loaded`);
  if (fused > 0) notes.push(`${fused} fused projections (qkv_proj, gate_up_proj) read as their q/k/v and gate/up rows`);
  return { map: { files, tensors }, notes };
}
