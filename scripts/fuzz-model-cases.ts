// The mutations of scripts/fuzz-model-files.ts: each case changes one thing of a reference model's files (config.json,
// generation_config.json, the safetensors header or bytes, a sharded index, tokenizer.json / tokenizer_config.json).

export interface CaseFiles {
  dir: string;
  /** Replaces (or adds) a file of the case's copy. */
  put: (name: string, data: string | Uint8Array) => void;
  read: (name: string) => Uint8Array;
  remove: (name: string) => void;
}

export interface FuzzCase {
  id: string;
  /** The model copied: 'kjv' (default), or a folder name of ../shared/models/random or families. */
  base?: string;
  /** Generate through the chat template (for tokenizer_config cases). */
  chat?: boolean;
  apply: (f: CaseFiles) => void;
}

type Json = Record<string, unknown>;
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const readJson = (f: CaseFiles, name: string) => JSON.parse(text(f.read(name))) as Json;

/** The header (parsed) and the data section of a safetensors file. */
function splitSafetensors(bytes: Uint8Array): { header: Json; data: Uint8Array } {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  return { header: JSON.parse(text(bytes.subarray(8, 8 + n))) as Json, data: bytes.subarray(8 + n) };
}

function joinSafetensors(headerText: string, data: Uint8Array, lengthOverride?: bigint): Uint8Array {
  const body = new TextEncoder().encode(headerText);
  const out = new Uint8Array(8 + body.length + data.length);
  new DataView(out.buffer).setBigUint64(0, lengthOverride ?? BigInt(body.length), true);
  out.set(body, 8);
  out.set(data, 8 + body.length);
  return out;
}

/** A case that edits the parsed header of model.safetensors (the data kept as is). */
function header(id: string, edit: (h: Json) => unknown, base?: string): FuzzCase {
  return {
    id: `safetensors/${id}`,
    base,
    apply: (f) => {
      const { header: h, data } = splitSafetensors(f.read('model.safetensors'));
      const out = edit(h);
      f.put('model.safetensors', joinSafetensors(typeof out === 'string' ? out : JSON.stringify(out ?? h), data));
    },
  };
}

/** A case that edits one tensor's entry of the header. */
function tensor(id: string, name: string, edit: (t: Json) => void): FuzzCase {
  return header(id, (h) => {
    edit(h[name] as Json);
    return h;
  });
}

function jsonCase(file: string, id: string, edit: (j: Json) => unknown, base?: string, chat?: boolean): FuzzCase {
  return {
    id: `${file}/${id}`,
    base,
    chat,
    apply: (f) => {
      const j = readJson(f, file);
      const out = edit(j);
      f.put(file, typeof out === 'string' ? out : JSON.stringify(out === undefined ? j : out));
    },
  };
}

const ODD_VALUES: [string, unknown][] = [
  ['0', 0],
  ['-1', -1],
  ['1.5', 1.5],
  ['"12"', '12'],
  ['null', null],
  ['1e9', 1e9],
  ['2^31', 2 ** 31],
  ['"NaN"', 'NaN'],
  ['[]', []],
  ['{}', {}],
  ['true', true],
  ['2^53+2', 2 ** 53 + 2],
];
const MISSING = Symbol('missing');

const CONFIG_NUMBERS = [
  'hidden_size',
  'intermediate_size',
  'num_attention_heads',
  'num_hidden_layers',
  'num_key_value_heads',
  'vocab_size',
  'max_position_embeddings',
  'head_dim',
  'rms_norm_eps',
  'bos_token_id',
  'eos_token_id',
  'pad_token_id',
  'sliding_window',
  'tie_word_embeddings',
  'attention_bias',
  'mlp_bias',
  'hidden_act',
  'torch_dtype',
  'dtype',
  'rope_theta',
  'rope_scaling',
  'rope_parameters',
  'layer_types',
  'architectures',
  'model_type',
  'text_config',
  'quantization_config',
  'num_local_experts',
];

function setOrDelete(j: Json, key: string, v: unknown): void {
  if (v === MISSING) delete j[key];
  else j[key] = v;
}

export function fuzzCases(): FuzzCase[] {
  const cases: FuzzCase[] = [];
  const add = (...c: FuzzCase[]) => cases.push(...c);

  // ---- config.json: each key → odd values, and missing
  for (const key of CONFIG_NUMBERS) {
    for (const [label, v] of [...ODD_VALUES, ['missing', MISSING] as [string, unknown]]) {
      add(jsonCase('config.json', `${key}=${label}`, (j) => setOrDelete(j, key, v)));
    }
  }
  // inconsistent combinations
  add(
    jsonCase('config.json', 'heads-not-dividing-hidden', (j) => void (Object.assign(j, { num_attention_heads: 7, head_dim: undefined }), delete j.head_dim)),
    jsonCase('config.json', 'kv-heads>heads', (j) => void (j.num_key_value_heads = 16)),
    jsonCase('config.json', 'kv-heads-not-dividing', (j) => void (j.num_key_value_heads = 3)),
    jsonCase('config.json', 'head_dim=31', (j) => void (j.head_dim = 31)),
    jsonCase('config.json', 'head_dim=64-vs-checkpoint-32', (j) => void (j.head_dim = 64)),
    jsonCase('config.json', 'head_dim=16', (j) => void (j.head_dim = 16)),
    jsonCase('config.json', 'hidden_size=512-vs-checkpoint', (j) => void (j.hidden_size = 512)),
    jsonCase('config.json', 'vocab_size=4095', (j) => void (j.vocab_size = 4095)),
    jsonCase('config.json', 'vocab_size=8192', (j) => void (j.vocab_size = 8192)),
    jsonCase('config.json', 'layers=12-vs-checkpoint-6', (j) => void (j.num_hidden_layers = 12)),
    jsonCase('config.json', 'layers=3-vs-checkpoint-6', (j) => void (j.num_hidden_layers = 3)),
    jsonCase('config.json', 'intermediate=700', (j) => void (j.intermediate_size = 700)),
    jsonCase('config.json', 'tie-with-lm_head-present', (j) => void (j.tie_word_embeddings = true)),
    jsonCase('config.json', 'max_pos=1', (j) => void (j.max_position_embeddings = 1)),
    jsonCase('config.json', 'max_pos=2', (j) => void (j.max_position_embeddings = 2)),
    jsonCase('config.json', 'max_pos=2^27', (j) => void (j.max_position_embeddings = 2 ** 27)),
    jsonCase('config.json', 'eos=[1,1e9,-1,"x"]', (j) => void (j.eos_token_id = [1, 1e9, -1, 'x'])),
    jsonCase('config.json', 'bos=4096', (j) => void (j.bos_token_id = 4096)),
    jsonCase('config.json', 'architectures=constructor', (j) => void (j.architectures = ['constructor'])),
    jsonCase('config.json', 'architectures=toString', (j) => void (j.architectures = ['toString'])),
    jsonCase('config.json', 'architectures=__proto__', (j) => void (j.architectures = ['__proto__'])),
    jsonCase('config.json', 'architectures="LlamaForCausalLM"', (j) => void (j.architectures = 'LlamaForCausalLM')),
    jsonCase('config.json', 'architectures=unknown', (j) => void (j.architectures = ['FooForCausalLM'])),
    jsonCase('config.json', 'hidden_act=constructor', (j) => void (j.hidden_act = 'constructor')),
    jsonCase('config.json', 'rope_type=constructor', (j) => void (j.rope_parameters = { rope_theta: 10000, rope_type: 'constructor' })),
    jsonCase('config.json', 'rope_type=toString', (j) => void (j.rope_parameters = { rope_theta: 10000, rope_type: 'toString' })),
    jsonCase('config.json', 'rope_type=unknown', (j) => void (j.rope_parameters = { rope_theta: 10000, rope_type: 'weird' })),
    jsonCase('config.json', 'rope_theta=0', (j) => void (j.rope_parameters = { rope_theta: 0, rope_type: 'default' })),
    jsonCase('config.json', 'rope_theta=-1', (j) => void (j.rope_parameters = { rope_theta: -1, rope_type: 'default' })),
    jsonCase('config.json', 'rope_theta=1e300', (j) => void (j.rope_parameters = { rope_theta: 1e300, rope_type: 'default' })),
    jsonCase('config.json', 'rope_theta=1', (j) => void (j.rope_parameters = { rope_theta: 1, rope_type: 'default' })),
    jsonCase('config.json', 'rope_theta="1e4"', (j) => void (j.rope_parameters = { rope_theta: '1e4', rope_type: 'default' })),
    jsonCase('config.json', 'rope_parameters=[]', (j) => void (j.rope_parameters = [])),
    jsonCase('config.json', 'rope linear factor 0', (j) => void (j.rope_parameters = { rope_theta: 10000, rope_type: 'linear', factor: 0 })),
    jsonCase('config.json', 'rope linear factor -2', (j) => void (j.rope_parameters = { rope_theta: 10000, rope_type: 'linear', factor: -2 })),
    jsonCase('config.json', 'rope linear factor "2"', (j) => void (j.rope_parameters = { rope_theta: 10000, rope_type: 'linear', factor: '2' })),
    jsonCase('config.json', 'rope dynamic no factor', (j) => void (j.rope_parameters = { rope_theta: 10000, rope_type: 'dynamic' })),
    jsonCase('config.json', 'rope yarn factor 1e300', (j) => void (j.rope_parameters = { rope_theta: 10000, rope_type: 'yarn', factor: 1e300 })),
    jsonCase('config.json', 'rope yarn factor 4', (j) => void (j.rope_parameters = { rope_theta: 10000, rope_type: 'yarn', factor: 4, original_max_position_embeddings: 256 })),
    jsonCase('config.json', 'rope yarn beta_fast<beta_slow', (j) => void (j.rope_parameters = { rope_theta: 10000, rope_type: 'yarn', factor: 4, beta_fast: 1, beta_slow: 32, original_max_position_embeddings: 256 })),
    jsonCase('config.json', 'rope yarn orig_max=0', (j) => void (j.rope_parameters = { rope_theta: 10000, rope_type: 'yarn', factor: 4, original_max_position_embeddings: 0 })),
    jsonCase('config.json', 'rope llama3 low>high', (j) => void (j.rope_parameters = { rope_theta: 10000, rope_type: 'llama3', factor: 8, low_freq_factor: 4, high_freq_factor: 1, original_max_position_embeddings: 256 })),
    jsonCase('config.json', 'rope llama3 low=high', (j) => void (j.rope_parameters = { rope_theta: 10000, rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 1, original_max_position_embeddings: 256 })),
    jsonCase('config.json', 'rope longrope short_factor wrong length', (j) => void (j.rope_parameters = { rope_theta: 10000, rope_type: 'longrope', short_factor: [1, 2], long_factor: [1, 2], original_max_position_embeddings: 256 })),
    jsonCase('config.json', 'rope longrope factors strings', (j) => void (j.rope_parameters = { rope_theta: 10000, rope_type: 'longrope', short_factor: Array(16).fill('1'), long_factor: Array(16).fill(1), original_max_position_embeddings: 256 })),
    jsonCase('config.json', 'rope partial_rotary_factor=0', (j) => void (j.partial_rotary_factor = 0)),
    jsonCase('config.json', 'rope partial_rotary_factor=0.3', (j) => void (j.partial_rotary_factor = 0.3)),
    jsonCase('config.json', 'rope partial_rotary_factor=2', (j) => void (j.partial_rotary_factor = 2)),
    jsonCase('config.json', 'rope_scaling legacy type=constructor', (j) => void (delete j.rope_parameters, (j.rope_theta = 10000), (j.rope_scaling = { type: 'constructor', factor: 2 }))),
    jsonCase('config.json', 'rope_parameters per layer type odd', (j) => void (j.rope_parameters = { full_attention: 5, sliding_attention: null })),
    jsonCase('config.json', 'layer_types wrong length', (j) => void (j.layer_types = ['full_attention'])),
    jsonCase('config.json', 'layer_types unknown', (j) => void (j.layer_types = Array(6).fill('linear_attention'))),
    jsonCase('config.json', 'layer_types sliding without window', (j) => void (j.layer_types = Array(6).fill('sliding_attention'))),
    jsonCase('config.json', 'sliding_window=1', (j) => void ((j.layer_types = Array(6).fill('sliding_attention')), (j.sliding_window = 1))),
    jsonCase('config.json', 'every size at its limit', (j) => void Object.assign(j, { num_hidden_layers: 1024, hidden_size: 1 << 17, num_attention_heads: 1024, num_key_value_heads: 1024, head_dim: 128, intermediate_size: 1 << 20, vocab_size: 1 << 22, max_position_embeddings: 1 << 27 })),
    jsonCase('config.json', 'every size at its limit, tied', (j) => void Object.assign(j, { num_hidden_layers: 1024, hidden_size: 1 << 17, num_attention_heads: 1024, num_key_value_heads: 1, head_dim: 1024, intermediate_size: 1 << 20, vocab_size: 1 << 22, max_position_embeddings: 1 << 27, tie_word_embeddings: true })),
    jsonCase('config.json', 'rms_norm_eps=1e300', (j) => void (j.rms_norm_eps = 1e300)),
    jsonCase('config.json', 'torch_dtype=int4', (j) => void (j.torch_dtype = 'int4')),
    jsonCase('config.json', 'not an object ([])', () => '[]'),
    jsonCase('config.json', 'not an object (5)', () => '5'),
    jsonCase('config.json', 'null', () => 'null'),
    jsonCase('config.json', 'truncated', (j) => JSON.stringify(j).slice(0, 40)),
    jsonCase('config.json', 'empty', () => ''),
    jsonCase('config.json', 'BOM', (j) => '\ufeff' + JSON.stringify(j)),
    jsonCase('config.json', 'NaN literal', (j) => JSON.stringify(j).replace('"rms_norm_eps":1e-05', '"rms_norm_eps":NaN')),
    jsonCase('config.json', 'deep nesting', (j) => JSON.stringify(j).replace(/}$/, `,"x":${'['.repeat(100000)}${']'.repeat(100000)}}`)),
    jsonCase('config.json', 'text_config odd (Gemma3 wrapper)', (j) => void ((j.architectures = ['Gemma3ForConditionalGeneration']), (j.text_config = 5))),
    jsonCase('config.json', 'text_config null (Gemma3 wrapper)', (j) => void ((j.architectures = ['Gemma3ForConditionalGeneration']), (j.text_config = null))),
  );
  // families: keys of their own
  const fam = (base: string, id: string, edit: (j: Json) => void) => jsonCase('config.json', `${base}:${id}`, edit, base);
  add(
    fam('gemma2-a-bf16', 'query_pre_attn_scalar=0', (j) => void (j.query_pre_attn_scalar = 0)),
    fam('gemma2-a-bf16', 'query_pre_attn_scalar missing', (j) => void delete j.query_pre_attn_scalar),
    fam('gemma2-a-bf16', 'attn_logit_softcapping=-1', (j) => void (j.attn_logit_softcapping = -1)),
    fam('gemma2-a-bf16', 'final_logit_softcapping="x"', (j) => void (j.final_logit_softcapping = 'x')),
    fam('gemma2-a-bf16', 'sliding_window=0', (j) => void (j.sliding_window = 0)),
    fam('gemma2-a-bf16', 'hidden_activation=relu', (j) => void (j.hidden_activation = 'relu')),
    fam('gemma3-a-bf16', 'sliding_window_pattern=0', (j) => void (j.sliding_window_pattern = 0)),
    fam('gemma3-a-bf16', 'rope_local_base_freq missing', (j) => void delete j.rope_local_base_freq),
    fam('gemma3-a-bf16', 'rope_local_base_freq=-5', (j) => void (j.rope_local_base_freq = -5)),
    fam('phi3-a-bf16', 'partial_rotary_factor=1.5', (j) => void (j.partial_rotary_factor = 1.5)),
    fam('phi3-a-bf16', 'partial_rotary_factor=0.01', (j) => void (j.partial_rotary_factor = 0.01)),
    fam('phi3-a-bf16', 'rope_scaling short_factor short', (j) => void ((j.rope_scaling as Json).short_factor = [1])),
    fam('phi3-a-bf16', 'rope_scaling null', (j) => void (j.rope_scaling = null)),
    fam('phi3-a-bf16', 'original_max=0', (j) => void (j.original_max_position_embeddings = 0)),
    fam('smollm3-a-bf16', 'no_rope_layers wrong length', (j) => void (j.no_rope_layers = [1])),
    fam('smollm3-a-bf16', 'no_rope_layers values 2', (j) => void (j.no_rope_layers = (j.no_rope_layers as number[]).map(() => 2))),
    fam('smollm3-a-bf16', 'no_rope_layer_interval=0', (j) => void ((j.no_rope_layer_interval = 0), delete j.no_rope_layers)),
    fam('granite-a-bf16', 'logits_scaling=0', (j) => void (j.logits_scaling = 0)),
    fam('granite-a-bf16', 'embedding_multiplier=-1', (j) => void (j.embedding_multiplier = -1)),
    fam('granite-a-bf16', 'residual_multiplier=1e300', (j) => void (j.residual_multiplier = 1e300)),
    fam('granite-a-bf16', 'attention_multiplier=null', (j) => void (j.attention_multiplier = null)),
    fam('qwen3-a-bf16', 'tie=false (no lm_head)', (j) => void (j.tie_word_embeddings = false)),
    fam('qwen3-a-bf16', 'use_sliding_window, max_window_layers "x"', (j) => void ((j.use_sliding_window = true), (j.max_window_layers = 'x'), (j.sliding_window = 4))),
    fam('qwen3-a-bf16', 'use_sliding_window, max_window_layers -5', (j) => void ((j.use_sliding_window = true), (j.max_window_layers = -5), (j.sliding_window = 4))),
    fam('olmo2-a-bf16', 'rms_norm_eps=-1', (j) => void (j.rms_norm_eps = -1)),
    jsonCase('config.json', 'llama-tied-mqa:tie=false (no lm_head)', (j) => void (j.tie_word_embeddings = false), 'llama-tied-mqa-fp16'),
    jsonCase('config.json', 'qwen2:num_kv=2 (checkpoint 1?)', (j) => void (j.num_key_value_heads = (j.num_attention_heads as number)), 'qwen2-bias-fp32'),
    jsonCase('config.json', 'qwen2:attention_bias false', (j) => void (j.attention_bias = false), 'qwen2-bias-fp32'),
    jsonCase('config.json', 'llama-gqa:attention_bias true', (j) => void (j.attention_bias = true), 'llama-gqa-bf16'),
    jsonCase('config.json', 'llama-gqa:mlp_bias true', (j) => void (j.mlp_bias = true), 'llama-gqa-bf16'),
  );

  // ---- generation_config.json
  const GEN_KEYS = ['temperature', 'top_k', 'top_p', 'repetition_penalty', 'max_new_tokens', 'eos_token_id', 'do_sample', 'max_length', 'bos_token_id', 'pad_token_id'];
  for (const key of GEN_KEYS) {
    for (const [label, v] of [['0', 0], ['-1', -1], ['1.5', 1.5], ['"x"', 'x'], ['null', null], ['1e9', 1e9], ['[]', []], ['1e300', 1e300]] as [string, unknown][]) {
      add(jsonCase('generation_config.json', `${key}=${label} (do_sample)`, (j) => void ((j.do_sample = key === 'do_sample' ? v : true), key !== 'do_sample' && (j[key] = v))));
    }
  }
  add(
    jsonCase('generation_config.json', 'eos=[1,1e9,-1,"x",4096]', (j) => void (j.eos_token_id = [1, 1e9, -1, 'x', 4096])),
    jsonCase('generation_config.json', 'eos=4096 only', (j) => void (j.eos_token_id = 4096)),
    jsonCase('generation_config.json', 'eos=[] ', (j) => void (j.eos_token_id = [])),
    jsonCase('generation_config.json', 'eos=1e6 list', (j) => void (j.eos_token_id = Array.from({ length: 100000 }, (_, i) => i))),
    jsonCase('generation_config.json', 'not an object ([])', () => '[]'),
    jsonCase('generation_config.json', 'string', () => '"hello"'),
    jsonCase('generation_config.json', 'null', () => 'null'),
    jsonCase('generation_config.json', 'truncated', (j) => JSON.stringify(j).slice(0, 10)),
    jsonCase('generation_config.json', 'html', () => '<!doctype html><html></html>'),
  );

  // ---- safetensors header
  const first = 'model.embed_tokens.weight';
  const q0 = 'model.layers.0.self_attn.q_proj.weight';
  const tail = (h: Json) => Object.keys(h).filter((k) => k !== '__metadata__').sort((a, b) => ((h[b] as Json).data_offsets as number[])[0] - ((h[a] as Json).data_offsets as number[])[0])[0];
  /** Where the last tensor's data ends. */
  const dataEnd = (h: Json) => ((h[tail(h)] as Json).data_offsets as number[])[1];
  /** The header with an empty tensor added at the end of the data. */
  const withEmptyTensor = (h: Json, name: string, dtype: string): Json => ({ ...h, [name]: { dtype, shape: [0], data_offsets: [dataEnd(h), dataEnd(h)] } });
  const raw = (id: string, make: (bytes: Uint8Array) => Uint8Array): FuzzCase => ({ id: `safetensors/${id}`, apply: (f) => f.put('model.safetensors', make(f.read('model.safetensors'))) });
  const withLength = (v: bigint) => (b: Uint8Array) => {
    const out = b.slice();
    new DataView(out.buffer).setBigUint64(0, v, true);
    return out;
  };
  add(
    raw('length 2^53', withLength(2n ** 53n)),
    raw('length 2^64-1', withLength(2n ** 64n - 1n)),
    raw('length 0', withLength(0n)),
    raw('length 1', withLength(1n)),
    raw('length beyond file', (b) => withLength(BigInt(b.length))(b)),
    raw('length one short', (b) => withLength(new DataView(b.buffer, b.byteOffset).getBigUint64(0, true) - 1n)(b)),
    raw('length one long', (b) => withLength(new DataView(b.buffer, b.byteOffset).getBigUint64(0, true) + 1n)(b)),
    raw('empty file', () => new Uint8Array(0)),
    raw('7 bytes', (b) => b.slice(0, 7)),
    raw('header only', (b) => b.slice(0, 8 + Number(new DataView(b.buffer, b.byteOffset).getBigUint64(0, true)))),
    raw('truncated mid-data', (b) => b.slice(0, Math.floor(b.length / 2))),
    raw('one byte short', (b) => b.slice(0, b.length - 1)),
    raw('one byte extra', (b) => {
      const out = new Uint8Array(b.length + 1);
      out.set(b);
      return out;
    }),
    raw('html page', () => new TextEncoder().encode('<!doctype html><html><body>not found</body></html>')),
    raw('invalid utf-8 in header', (b) => {
      const out = b.slice();
      out[9] = 0xff;
      return out;
    }),
    raw('NaN bf16 weights', (b) => {
      const out = b.slice();
      const n = 8 + Number(new DataView(b.buffer, b.byteOffset).getBigUint64(0, true));
      for (let i = n; i + 1 < out.length; i += 2) {
        out[i] = 0xc1;
        out[i + 1] = 0x7f;
      }
      return out;
    }),
    header('not JSON', () => '{"a":'),
    header('array', () => '[]'),
    header('string', () => '"x"'),
    header('number', () => '5'),
    header('null', () => 'null'),
    header('empty object', () => '{}'),
    header('only __metadata__', (h) => ({ __metadata__: h.__metadata__ ?? {} })),
    header('__metadata__=5', (h) => ({ ...h, __metadata__: 5 })),
    header('__metadata__=[1]', (h) => ({ ...h, __metadata__: [1] })),
    header('__metadata__ nested', (h) => ({ ...h, __metadata__: { format: { a: [1] } } })),
    header('__metadata__ shaped as a tensor', (h) => ({ ...h, __metadata__: { dtype: 'F16', shape: [1e12], data_offsets: [0, 1] } })),
    header('tensor entry null', (h) => ({ ...h, [first]: null })),
    header('tensor entry string', (h) => ({ ...h, [first]: 'x' })),
    header('tensor entry array', (h) => ({ ...h, [first]: [] })),
    header('extra unused tensor F32', (h) => withEmptyTensor(h, 'model.extra.weight', 'F32')),
    header('extra unused tensor I64 (rotary buffer)', (h) => withEmptyTensor(h, 'model.layers.0.self_attn.rotary_emb.position_ids', 'I64')),
    header('extra tensor named __proto__', (h) => {
      const end = dataEnd(h);
      return JSON.stringify(h).replace(/}$/, `,"__proto__":{"dtype":"F32","shape":[0],"data_offsets":[${end},${end}]}}`);
    }),
    header('extra tensor named constructor', (h) => withEmptyTensor(h, 'constructor', 'F32')),
    header('duplicate key (second one wrong)', (h) => JSON.stringify(h).replace(/}$/, `,"${first}":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}`)),
    header('missing embed_tokens', (h) => void delete h[first]),
    header('missing q_proj', (h) => void delete h[q0]),
    header('missing lm_head', (h) => void delete h['lm_head.weight']),
    header('missing final norm', (h) => void delete h['model.norm.weight']),
    tensor('dtype unknown', q0, (t) => void (t.dtype = 'Q4_K')),
    tensor('dtype I8', q0, (t) => void (t.dtype = 'I8')),
    tensor('dtype constructor', q0, (t) => void (t.dtype = 'constructor')),
    tensor('dtype __proto__', q0, (t) => void (t.dtype = '__proto__')),
    tensor('dtype toString', q0, (t) => void (t.dtype = 'toString')),
    tensor('dtype lowercase bf16', q0, (t) => void (t.dtype = 'bf16')),
    tensor('dtype number', q0, (t) => void (t.dtype = 16)),
    tensor('dtype F32 (span wrong)', q0, (t) => void (t.dtype = 'F32')),
    tensor('dtype F16 (same span)', q0, (t) => void (t.dtype = 'F16')),
    tensor('shape negative', q0, (t) => void (t.shape = [-256, -256])),
    tensor('shape fractional', q0, (t) => void (t.shape = [256.5, 256])),
    tensor('shape huge', q0, (t) => void (t.shape = [1e12, 1e12])),
    tensor('shape 2^26 x 2^27 (2^53 exactly)', q0, (t) => void (t.shape = [2 ** 26, 2 ** 26])),
    tensor('shape string', q0, (t) => void (t.shape = '256,256')),
    tensor('shape ["256",256]', q0, (t) => void (t.shape = ['256', 256])),
    tensor('shape transposed-like [128,512]', q0, (t) => void (t.shape = [128, 512])),
    tensor('shape 3-d [16,16,256]', q0, (t) => void (t.shape = [16, 16, 256])),
    tensor('shape 1-d [65536]', q0, (t) => void (t.shape = [65536])),
    tensor('shape [] scalar', q0, (t) => void (t.shape = [])),
    tensor('shape with 0 and span 0', q0, (t) => void ((t.shape = [0, 256]), (t.data_offsets = [(t.data_offsets as number[])[0], (t.data_offsets as number[])[0]]))),
    tensor('embed shape [4096,128] + offsets', first, (t) => void ((t.shape = [4096, 128]), (t.data_offsets = [(t.data_offsets as number[])[0], (t.data_offsets as number[])[0] + 4096 * 128 * 2]))),
    tensor('offsets reversed', q0, (t) => void (t.data_offsets = [...(t.data_offsets as number[])].reverse())),
    tensor('offsets negative', q0, (t) => void (t.data_offsets = [-2, (t.data_offsets as number[])[1] - (t.data_offsets as number[])[0] - 2])),
    tensor('offsets fractional', q0, (t) => void (t.data_offsets = (t.data_offsets as number[]).map((x) => x + 0.5))),
    tensor('offsets strings', q0, (t) => void (t.data_offsets = (t.data_offsets as number[]).map(String))),
    tensor('offsets 3 entries', q0, (t) => void (t.data_offsets = [...(t.data_offsets as number[]), 0])),
    tensor('offsets shifted by 1 (overlap)', q0, (t) => void (t.data_offsets = (t.data_offsets as number[]).map((x) => x + 1))),
    tensor('offsets shifted odd into another', q0, (t) => void (t.data_offsets = (t.data_offsets as number[]).map((x) => x + 3))),
    tensor('offsets past end', q0, (t) => void (t.data_offsets = (t.data_offsets as number[]).map((x) => x + 1e8))),
    tensor('offsets 2^53', q0, (t) => void (t.data_offsets = [2 ** 53, 2 ** 53 + 256 * 256 * 2])),
    tensor('offsets span larger', q0, (t) => void (t.data_offsets = [(t.data_offsets as number[])[0], (t.data_offsets as number[])[1] + 2])),
    header('two tensors share a range', (h) => {
      ((h['model.layers.0.self_attn.k_proj.weight'] as Json).data_offsets as number[]) = [...((h[q0] as Json).data_offsets as number[])].map((x, i) => (i ? x - (256 * 256 - 256 * 128) * 2 : x));
      return h;
    }),
    header('offsets relative to file start (off by header)', (h) => {
      for (const k of Object.keys(h)) if (k !== '__metadata__') ((h[k] as Json).data_offsets as number[]).forEach((_, i, a) => (a[i] += 16));
      return h;
    }),
    header('padding with NULs', (h) => JSON.stringify(h) + '\u0000\u0000'),
    header('huge number of tensors', (h) => {
      const out: Json = { ...h };
      for (let i = 0; i < 70000; i++) out[`x.${i}`] = { dtype: 'F16', shape: [0], data_offsets: [0, 0] };
      return out;
    }),
    header('many zero-size unused tensors', (h) => {
      const out: Json = { ...h };
      for (let i = 0; i < 5000; i++) out[`model.layers.99.x.${i}`] = { dtype: 'F16', shape: [0], data_offsets: [0, 0] };
      return out;
    }),
    header('layer 6 extra (config says 6)', (h) => withEmptyTensor(h, 'model.layers.6.input_layernorm.weight', 'BF16')),
    header('layer 1e9 extra', (h) => withEmptyTensor(h, 'model.layers.1000000000.input_layernorm.weight', 'BF16')),
  );
  // the same for an fp32 and an fp16 checkpoint (the conversion paths)
  add(
    header('fp32: dtype F16 (span wrong)', (h) => void ((h['model.layers.0.self_attn.q_proj.weight'] as Json).dtype = 'F16'), 'qwen2-bias-fp32'),
    header('fp16: bias for q on llama (extra tensor)', (h) => withEmptyTensor(h, 'model.layers.0.self_attn.q_proj.bias', 'F16'), 'llama-tied-mqa-fp16'),
  );

  // ---- sharded checkpoints
  const sharded = (id: string, edit: (index: Json, f: CaseFiles, names: string[]) => void): FuzzCase => ({
    id: `sharded/${id}`,
    apply: (f) => {
      const { header: h, data } = splitSafetensors(f.read('model.safetensors'));
      const names = Object.keys(h).filter((k) => k !== '__metadata__');
      const half = Math.ceil(names.length / 2);
      const shards = [names.slice(0, half), names.slice(half)];
      const weightMap: Json = {};
      shards.forEach((list, s) => {
        const file = `model-0000${s + 1}-of-00002.safetensors`;
        let at = 0;
        const hdr: Json = {};
        const parts: Uint8Array[] = [];
        for (const name of list) {
          const t = h[name] as Json;
          const [a, b] = t.data_offsets as number[];
          hdr[name] = { ...t, data_offsets: [at, at + b - a] };
          parts.push(data.subarray(a, b));
          at += b - a;
          weightMap[name] = file;
        }
        const body = new Uint8Array(at);
        let o = 0;
        for (const p of parts) {
          body.set(p, o);
          o += p.length;
        }
        f.put(file, joinSafetensors(JSON.stringify(hdr), body));
      });
      f.remove('model.safetensors');
      const index: Json = { metadata: { total_size: data.length }, weight_map: weightMap };
      edit(index, f, names);
      f.put('model.safetensors.index.json', JSON.stringify(index));
    },
  });
  const wm = (i: Json) => i.weight_map as Json;
  add(
    sharded('clean', () => {}),
    sharded('missing shard', (_i, f) => f.remove('model-00002-of-00002.safetensors')),
    sharded('../ path', (i) => void (wm(i)[q0] = '../kjv-good.safetensors')),
    sharded('encoded ../ path', (i) => void (wm(i)[q0] = '%2e%2e/kjv-good.safetensors')),
    sharded('absolute URL', (i) => void (wm(i)[q0] = 'http://127.0.0.1:1/x.safetensors')),
    sharded('protocol-relative URL', (i) => void (wm(i)[q0] = '//example.com/x.safetensors')),
    sharded('absolute path', (i) => void (wm(i)[q0] = '/kjv-good.safetensors')),
    sharded('tensor in the other shard', (i) => void (wm(i)[q0] = 'model-00002-of-00002.safetensors')),
    sharded('tensor missing from index', (i) => void delete wm(i)[q0]),
    sharded('index names a tensor nowhere', (i) => void (wm(i)['model.ghost.weight'] = 'model-00001-of-00002.safetensors')),
    sharded('duplicate tensor in two shards', (_i, f) => {
      const a = splitSafetensors(f.read('model-00001-of-00002.safetensors'));
      const b = splitSafetensors(f.read('model-00002-of-00002.safetensors'));
      const name = Object.keys(a.header).find((k) => k !== '__metadata__')!;
      const t = a.header[name] as Json;
      const span = (t.data_offsets as number[])[1] - (t.data_offsets as number[])[0];
      const grown = new Uint8Array(b.data.length + span);
      grown.set(b.data);
      f.put('model-00002-of-00002.safetensors', joinSafetensors(JSON.stringify({ ...b.header, [name]: { ...t, data_offsets: [b.data.length, b.data.length + span] } }), grown));
    }),
    sharded('weight_map value number', (i) => void (wm(i)[q0] = 5)),
    sharded('weight_map value empty', (i) => void (wm(i)[q0] = '')),
    sharded('weight_map array', (i) => void (i.weight_map = [])),
    sharded('weight_map null', (i) => void (i.weight_map = null)),
    sharded('weight_map missing', (i) => void delete i.weight_map),
    sharded('weight_map empty', (i) => void (i.weight_map = {})),
    sharded('index array', (i) => void Object.assign(i, { weight_map: ['x'] })),
    sharded('shard name with query', (i) => void (wm(i)[q0] = 'model-00001-of-00002.safetensors?x=1')),
    sharded('shard is a directory', (i) => void (wm(i)[q0] = 'sub/')),
    sharded('shard is the index itself', (i) => void (wm(i)[q0] = 'model.safetensors.index.json')),
    sharded('shard is config.json', (i) => void (wm(i)[q0] = 'config.json')),
  );

  // ---- tokenizer.json / tokenizer_config.json
  const tok = (id: string, edit: (j: Json) => unknown, chat = false) => jsonCase('tokenizer.json', id, edit, undefined, chat);
  const tcfg = (id: string, edit: (j: Json) => unknown, chat = true) => jsonCase('tokenizer_config.json', id, edit, undefined, chat);
  add(
    tok('truncated', (j) => JSON.stringify(j).slice(0, 1000)),
    tok('not an object ([])', () => '[]'),
    tok('null', () => 'null'),
    tok('model missing', (j) => void delete j.model),
    tok('model null', (j) => void (j.model = null)),
    tok('model.type unknown', (j) => void ((j.model as Json).type = 'Unigramm')),
    tok('model.vocab array', (j) => void ((j.model as Json).vocab = [])),
    tok('model.vocab empty', (j) => void ((j.model as Json).vocab = {})),
    tok('model.vocab ids past vocab_size', (j) => void ((j.model as Json).vocab = Object.fromEntries(Object.entries((j.model as Json).vocab as Json).map(([k, v]) => [k, (v as number) + 100000])))),
    tok('model.vocab ids negative', (j) => void ((j.model as Json).vocab = Object.fromEntries(Object.entries((j.model as Json).vocab as Json).map(([k, v]) => [k, (v as number) - 5000])))),
    tok('model.vocab ids strings', (j) => void ((j.model as Json).vocab = Object.fromEntries(Object.entries((j.model as Json).vocab as Json).map(([k, v]) => [k, String(v)])))),
    tok('model.merges garbage', (j) => void ((j.model as Json).merges = [5, null, 'a'])),
    tok('model.merges string', (j) => void ((j.model as Json).merges = 'a b')),
    tok('added_tokens not array', (j) => void (j.added_tokens = 5)),
    tok('added_tokens id past vocab', (j) => void (j.added_tokens = [...(j.added_tokens as Json[]), { id: 1e9, content: '<x>', special: true, single_word: false, lstrip: false, rstrip: false, normalized: false }])),
    tok('added_tokens entries null', (j) => void (j.added_tokens = [null])),
    tok('pre_tokenizer unknown', (j) => void (j.pre_tokenizer = { type: 'Nope' })),
    tok('normalizer unknown', (j) => void (j.normalizer = { type: 'Nope' })),
    tok('post_processor unknown', (j) => void (j.post_processor = { type: 'Nope' })),
    tok('post_processor bos id past vocab', (j) => JSON.stringify(j).replace(/"ids":\[0\]/g, '"ids":[99999]')),
    tok('decoder unknown', (j) => void (j.decoder = { type: 'Nope' })),
    tok('normalizer doubling 30 times', (j) => void (j.normalizer = { type: 'Sequence', normalizers: Array(30).fill({ type: 'Replace', pattern: { String: 'e' }, content: 'ee' }) })),
    tok('decoder doubling 30 times', (j) => void (j.decoder = { type: 'Sequence', decoders: [j.decoder, ...Array(30).fill({ type: 'Replace', pattern: { String: 'e' }, content: 'ee' })] })),
    tok('regex that is catastrophic', (j) => void (j.pre_tokenizer = { type: 'Split', pattern: { Regex: '(a+)+$' }, behavior: 'Isolated', invert: false })),
    tok('regex invalid', (j) => void (j.pre_tokenizer = { type: 'Split', pattern: { Regex: '(' }, behavior: 'Isolated', invert: false })),
    { id: 'tokenizer.json/missing', apply: (f) => f.remove('tokenizer.json') },
    { id: 'tokenizer_config.json/missing', apply: (f) => f.remove('tokenizer_config.json') },
    tcfg('bos_token not in vocab', (j) => void (j.bos_token = '<nope>')),
    tcfg('eos_token not in vocab', (j) => void (j.eos_token = '<nope>')),
    tcfg('eos_token number', (j) => void (j.eos_token = 5)),
    tcfg('eos_token object', (j) => void (j.eos_token = { content: '</s>', __type: 'AddedToken' })),
    tcfg('eos_token object bad', (j) => void (j.eos_token = { content: 5 })),
    tcfg('chat_template number', (j) => void (j.chat_template = 5)),
    tcfg('chat_template list', (j) => void (j.chat_template = [{ name: 'default', template: '{{ messages[0].content }}' }])),
    tcfg('chat_template list odd', (j) => void (j.chat_template = [5, null])),
    tcfg('chat_template syntax error', (j) => void (j.chat_template = '{% for %}')),
    tcfg('chat_template raises', (j) => void (j.chat_template = "{{ raise_exception('nope') }}")),
    tcfg('chat_template loops', (j) => void (j.chat_template = '{% for i in range(100000000) %}x{% endfor %}')),
    tcfg('chat_template nested loops', (j) => void (j.chat_template = '{% for i in range(90000) %}{% for k in range(90000) %}{% endfor %}{% endfor %}')),
    tcfg('chat_template doubles a string', (j) => void (j.chat_template = "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s }}")),
    tcfg('chat_template recursion', (j) => void (j.chat_template = '{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}')),
    tcfg('chat_template huge output', (j) => void (j.chat_template = "{{ 'x' * 100000000 }}")),
    tcfg('chat_template empty output', (j) => void (j.chat_template = '')),
    tcfg('chat_template huge source', (j) => void (j.chat_template = '{{ messages[0].content }}' + ' '.repeat(15 << 20))),
    tcfg('chat_template renders special tokens', (j) => void (j.chat_template = '{{ bos_token }}{{ eos_token * 3 }}{{ messages[0].content }}')),
    tcfg('model_max_length odd', (j) => void (j.model_max_length = -1)),
    tcfg('add_bos_token string', (j) => void (j.add_bos_token = 'yes')),
    tcfg('added_tokens_decoder odd', (j) => void (j.added_tokens_decoder = { '99999': { content: '<x>', special: true }, nope: 5 })),
    tcfg('not an object ([])', () => '[]', false),
    tcfg('truncated', (j) => JSON.stringify(j).slice(0, 10), false),
    { id: 'chat_template.jinja/loops', chat: true, apply: (f) => f.put('chat_template.jinja', '{% for i in range(100000000) %}x{% endfor %}') },
    { id: 'chat_template.jinja/binary', chat: true, apply: (f) => f.put('chat_template.jinja', new Uint8Array([0xff, 0xfe, 0, 1, 2])) },
    { id: 'config.json/missing', apply: (f) => f.remove('config.json') },
    { id: 'generation_config.json/missing', apply: (f) => f.remove('generation_config.json') },
  );
  return cases;
}
