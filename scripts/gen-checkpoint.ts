// Generates a random-weight Llama-shaped checkpoint of about a chosen size, streamed to disk (never held whole):
//   npm run gen-checkpoint -- --out bench-data/llama-1b --params 1.1e9 --dtype bf16
//   npm run gen-checkpoint -- --out /tmp/llama-7b --shape llama-7b --shard-gb 2 --fast
// Writes config.json, generation_config.json and model.safetensors (or, with --shard-gb, model-0000i-of-0000n
// shards of at most that size and model.safetensors.index.json, as the hub lays out large models: the whole-file
// strategies fetch a file into one ArrayBuffer, at most 4 GiB in Node 20). --shape llama-7b is Llama 2 7B's shape
// (4096 wide, 32 layers, 32 heads, no grouped-query attention, 11008 intermediate). --fast fills each tensor from a
// few pre-generated 8 MiB blocks of its own scale (values repeat every 32 MiB) instead of a fresh stream, so that
// writing runs at disk speed: for load benchmarks, which never look at the values. bench-data/ is gitignored: never
// commit these.
import { createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { badValue, numberOption, parseCli, runCli, UsageError } from './cli.ts';
import { GEN_CHECKPOINT } from './cli-specs.ts';
import { safetensorsHeader, tensorBytes, type TensorSpec } from './safetensors-writer.ts';

interface Shape {
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  intermediate: number;
  vocab: number;
}

/** TinyLlama-like proportions scaled to the target parameter count (hidden a multiple of 256). */
function shapeFor(params: number): Shape {
  const vocab = 32000;
  let best: { s: Shape; score: number } | null = null;
  for (let hidden = 256; hidden <= 8192; hidden += 256) {
    const intermediate = Math.round((hidden * 2.75) / 256) * 256;
    const heads = hidden / 64;
    let kvHeads = Math.max(1, Math.floor(heads / 8)); // grouped-query attention, 8 query heads per KV head
    while (heads % kvHeads) kvHeads--;
    const perLayer = 2 * hidden * hidden + 2 * hidden * kvHeads * 64 + 3 * hidden * intermediate + 2 * hidden;
    const layers = Math.max(1, Math.round((params - 2 * vocab * hidden - hidden) / perLayer));
    // Keep TinyLlama's depth-to-width ratio (22 layers at 2048): pick the width whose depth is closest to it.
    const score = Math.abs(Math.log(layers / (hidden / 93)));
    if (!best || score < best.score) best = { s: { hidden, layers, heads, kvHeads, intermediate, vocab }, score };
  }
  return best!.s;
}

function tensors(s: Shape, dtype: string): TensorSpec[] {
  const kv = s.kvHeads * 64;
  const out: TensorSpec[] = [{ name: 'model.embed_tokens.weight', dtype, shape: [s.vocab, s.hidden] }];
  for (let i = 0; i < s.layers; i++) {
    const p = `model.layers.${i}.`;
    out.push(
      { name: p + 'input_layernorm.weight', dtype, shape: [s.hidden] },
      { name: p + 'self_attn.q_proj.weight', dtype, shape: [s.hidden, s.hidden] },
      { name: p + 'self_attn.k_proj.weight', dtype, shape: [kv, s.hidden] },
      { name: p + 'self_attn.v_proj.weight', dtype, shape: [kv, s.hidden] },
      { name: p + 'self_attn.o_proj.weight', dtype, shape: [s.hidden, s.hidden] },
      { name: p + 'post_attention_layernorm.weight', dtype, shape: [s.hidden] },
      { name: p + 'mlp.gate_proj.weight', dtype, shape: [s.intermediate, s.hidden] },
      { name: p + 'mlp.up_proj.weight', dtype, shape: [s.intermediate, s.hidden] },
      { name: p + 'mlp.down_proj.weight', dtype, shape: [s.hidden, s.intermediate] },
    );
  }
  out.push({ name: 'model.norm.weight', dtype, shape: [s.hidden] }, { name: 'lm_head.weight', dtype, shape: [s.vocab, s.hidden] });
  return out;
}

function count(s: Shape): number {
  return tensors(s, 'F32').reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0);
}

/** Fills `out` with values ~N(0, std)-ish (uniform with the same std), or around 1 for norms, in the dtype. */
function fill(out: Uint8Array, dtype: string, std: number, norm: boolean, seed: number): void {
  let s = seed >>> 0;
  const n = out.length / (dtype === 'F32' ? 4 : 2);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  const a = std * Math.sqrt(3);
  const u16 = new Uint16Array(out.buffer, out.byteOffset, dtype === 'F32' ? 0 : n);
  const f32 = new Float32Array(out.buffer, out.byteOffset, dtype === 'F32' ? n : 0);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const v = (norm ? 1 : 0) + (s / 2 ** 31 - 1) * a;
    if (dtype === 'F32') f32[i] = v;
    else if (dtype === 'BF16') {
      f[0] = v;
      u16[i] = u[0] >>> 16;
    } else {
      f[0] = v; // fp16 via a cheap truncation: fine for random weights in range
      const x = u[0];
      const e = ((x >>> 23) & 0xff) - 112;
      u16[i] = ((x >>> 16) & 0x8000) | (e <= 0 ? 0 : (e << 10) | ((x >>> 13) & 0x3ff));
    }
  }
}

const LLAMA_7B: Shape = { hidden: 4096, layers: 32, heads: 32, kvHeads: 32, intermediate: 11008, vocab: 32000 };

/** Tensors in shards of at most `maxBytes` (a tensor larger than that gets a shard of its own). */
function shards(list: TensorSpec[], maxBytes: number): TensorSpec[][] {
  const out: TensorSpec[][] = [[]];
  let bytes = 0;
  for (const t of list) {
    const n = tensorBytes(t);
    if (bytes > 0 && bytes + n > maxBytes) {
      out.push([]);
      bytes = 0;
    }
    out[out.length - 1].push(t);
    bytes += n;
  }
  return out;
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseCli(GEN_CHECKPOINT, argv);
  const out = values.out;
  if (!out) throw new UsageError(`--out <dir> is required\n${GEN_CHECKPOINT.usage}`);
  const dtype = ({ bf16: 'BF16', fp16: 'F16', fp32: 'F32' } as Record<string, string>)[values.dtype];
  if (!dtype) throw badValue(GEN_CHECKPOINT, 'dtype', values.dtype, 'bf16, fp16 or fp32');
  if (values.shape !== undefined && values.shape !== 'llama-7b') throw badValue(GEN_CHECKPOINT, 'shape', values.shape, 'llama-7b');
  const s = values.shape
    ? LLAMA_7B
    : shapeFor(numberOption(GEN_CHECKPOINT, 'params', values.params, (n) => n >= 1e5 && n <= 1e11, 'a parameter count from 1e5 to 1e11'));
  const shardGb = values['shard-gb'] === undefined ? undefined : numberOption(GEN_CHECKPOINT, 'shard-gb', values['shard-gb'], (n) => n > 0, 'a size in GB');
  const fast = values.fast;
  const t0 = performance.now();
  mkdirSync(out, { recursive: true });
  const config = {
    architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_act: 'silu', hidden_size: s.hidden,
    intermediate_size: s.intermediate, num_hidden_layers: s.layers, num_attention_heads: s.heads,
    num_key_value_heads: s.kvHeads, head_dim: 64, vocab_size: s.vocab, max_position_embeddings: 2048,
    rms_norm_eps: 1e-5, rope_theta: 10000.0, tie_word_embeddings: false, bos_token_id: 1, eos_token_id: 2,
    torch_dtype: { BF16: 'bfloat16', F16: 'float16', F32: 'float32' }[dtype],
  };
  writeFileSync(join(out, 'config.json'), JSON.stringify(config, null, 2));
  writeFileSync(join(out, 'generation_config.json'), JSON.stringify({ bos_token_id: 1, eos_token_id: 2 }));
  const list = tensors(s, dtype);
  const files = shardGb === undefined ? [list] : shards(list, shardGb * 1e9);
  const fileName = (i: number) =>
    files.length === 1 ? 'model.safetensors' : `model-${String(i + 1).padStart(5, '0')}-of-${String(files.length).padStart(5, '0')}.safetensors`;
  if (files.length > 1) {
    const weightMap = Object.fromEntries(files.flatMap((f, i) => f.map((t) => [t.name, fileName(i)])));
    const totalSize = list.reduce((a, t) => a + tensorBytes(t), 0);
    writeFileSync(join(out, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: totalSize }, weight_map: weightMap }, null, 2));
  }
  const BLOCK = 8 << 20;
  // --fast: per scale (std) and kind (norm or not), four blocks made once and cycled
  const pools = new Map<string, Uint8Array[]>();
  const pool = (std: number, norm: boolean, seed: number) => {
    const key = `${std}:${norm}`;
    let p = pools.get(key);
    if (!p) {
      p = [0, 1, 2, 3].map((i) => {
        const b = new Uint8Array(BLOCK);
        fill(b, dtype, std, norm, seed * 4 + i);
        return b;
      });
      pools.set(key, p);
    }
    return p;
  };
  const block = new Uint8Array(BLOCK);
  let total = 0;
  let k = 0;
  for (const [i, f] of files.entries()) {
    const ws = createWriteStream(join(out, fileName(i)));
    const write = async (b: Uint8Array) => {
      if (!ws.write(b)) await once(ws, 'drain');
    };
    await write(safetensorsHeader(f, { metadata: { format: 'pt' } }));
    for (const t of f) {
      const norm = t.shape.length === 1;
      const std = 0.5 / Math.sqrt(t.shape[t.shape.length - 1]);
      for (let left = tensorBytes(t), j = 0; left > 0; j++) {
        const n = Math.min(left, BLOCK);
        if (fast) {
          const p = pool(std, norm, k);
          await write(p[(k + j) % p.length].subarray(0, n)); // never written to again: no copy
        } else {
          fill(block.subarray(0, n), dtype, std, norm, k * 7919 + j);
          await write(block.slice(0, n));
        }
        left -= n;
        total += n;
      }
      k++;
    }
    ws.end();
    await once(ws, 'finish');
  }
  const seconds = (performance.now() - t0) / 1000;
  console.log(
    JSON.stringify({ out, dtype, params: count(s), shape: s, files: files.length, fast, dataBytes: total, seconds: Math.round(seconds * 10) / 10, mbPerS: Math.round(total / 1e6 / seconds) }),
  );
}

runCli(() => main(process.argv.slice(2)));
