// The command line of every CLI in scripts/: usage and options, read by cli.ts parseCli (strict). Kept apart from the
// CLIs so that their parsing is unit-tested (cli-specs.test.ts) without running them, or loading a GPU.
import type { CliSpec } from './cli.ts';

export const GEN_CHECKPOINT = {
  usage: 'usage: npm run gen-checkpoint -- --out <dir> [--params 1.1e9 | --shape llama-7b] [--dtype bf16|fp16|fp32] [--shard-gb 2] [--fast]',
  options: {
    out: { type: 'string' },
    params: { type: 'string', default: '1.1e9' },
    shape: { type: 'string' },
    dtype: { type: 'string', default: 'bf16' },
    'shard-gb': { type: 'string' },
    fast: { type: 'boolean', default: false },
  },
} as const satisfies CliSpec;

export const VERIFY = {
  usage:
    'usage: npm run verify -- --model <dir-or-url> [--precision fp16|int8] [--int8-lm-head] [--threshold 6] [--json]\n' +
    '         [--dump-logits <file>] [--adapter swiftshader|lavapipe] [--max-tokens N] [--no-heldout] [--verbose]',
  options: {
    model: { type: 'string' },
    precision: { type: 'string', default: 'fp16' },
    json: { type: 'boolean', default: false },
    'dump-logits': { type: 'string' },
    adapter: { type: 'string' },
    'max-tokens': { type: 'string' },
    'no-heldout': { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
    threshold: { type: 'string' },
    'int8-lm-head': { type: 'boolean', default: false },
  },
} as const satisfies CliSpec;

export const BENCH_LOAD = {
  usage:
    'usage: npm run bench -- load --model <url-or-dir> [--strategy naive|fp16|streamed|streamed-int8[,…]] [--repeat N]\n' +
    '         [--convert-on gpu|cpu] [--reader thread|main] [--chunk-mib 4] [--ring 4] [--cache <dir>] [--int8-lm-head] [--json]',
  options: {
    model: { type: 'string' },
    strategy: { type: 'string', default: 'streamed' },
    repeat: { type: 'string', default: '1' },
    'convert-on': { type: 'string' },
    reader: { type: 'string', default: 'thread' },
    'chunk-mib': { type: 'string' },
    ring: { type: 'string', default: '4' },
    cache: { type: 'string' },
    'int8-lm-head': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
} as const satisfies CliSpec;

export const BENCH_DECODE = {
  usage:
    'usage: npm run bench -- decode --model <dir-or-url> [--precision fp16|int8[,…]] [--contexts 16,128,512] [--steps 16] [--threshold 6]\n' +
    '         [--profile] [--prefill N] [--matvec <threads>:<pairs>:<sg|wg>|thread:<pairs>] [--json]',
  options: {
    model: { type: 'string' },
    precision: { type: 'string', default: 'fp16' },
    contexts: { type: 'string', default: '16,128,512' },
    steps: { type: 'string', default: '16' },
    threshold: { type: 'string' },
    profile: { type: 'boolean', default: false },
    prefill: { type: 'string' },
    matvec: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
} as const satisfies CliSpec;

export const BENCH_QUALITY = {
  usage: 'usage: npm run bench -- quality [--model public/models/kjv-llama] [--threshold 6] [--windows N] [--int8-lm-head] [--json]',
  options: {
    model: { type: 'string', default: 'public/models/kjv-llama' },
    threshold: { type: 'string' },
    windows: { type: 'string' },
    'int8-lm-head': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
} as const satisfies CliSpec;

export const BENCH_HASH = {
  usage: 'usage: npm run bench -- hash [--mib 256] [--block-mib 8] [--json]',
  options: {
    mib: { type: 'string', default: '256' },
    'block-mib': { type: 'string', default: '8' },
    json: { type: 'boolean', default: false },
  },
} as const satisfies CliSpec;

/** `npm run bench -- <subcommand> …`: each subcommand's own spec. */
export const BENCH_SUBCOMMANDS = { load: BENCH_LOAD, decode: BENCH_DECODE, quality: BENCH_QUALITY, hash: BENCH_HASH } as const;

export const BENCH_USAGE = `usage: npm run bench -- <subcommand> …\n${Object.values(BENCH_SUBCOMMANDS)
  .map((s) => s.usage.replace(/^usage: npm run bench -- /, '  ').replace(/\n {9}/g, '\n      '))
  .join('\n')}`;

export const BENCH_ATTENTION = {
  usage:
    'usage: tsx --import ./scripts/raw-hooks.mjs scripts/bench-attention.ts [--heads 32] [--kv-heads 4] [--head-dim 64]\n' +
    '         [--layers 22] [--context 2048] [--lengths 16,128,512,2048] [--variants single,split,split:16:2048[:wg]] [--ms 40] [--json]',
  options: {
    heads: { type: 'string', default: '32' },
    'kv-heads': { type: 'string', default: '4' },
    'head-dim': { type: 'string', default: '64' },
    layers: { type: 'string', default: '22' },
    context: { type: 'string', default: '2048' },
    lengths: { type: 'string', default: '16,128,512,2048' },
    variants: { type: 'string', default: 'single,split' },
    ms: { type: 'string', default: '40' },
    json: { type: 'boolean', default: false },
  },
} as const satisfies CliSpec;

export const BENCH_MATVEC = {
  usage:
    'usage: tsx --import ./scripts/raw-hooks.mjs scripts/bench-matvec.ts [--dim 2048] [--hidden 5632] [--heads 32] [--kv-heads 4]\n' +
    '         [--head-dim 64] [--vocab 32000] [--precision fp16,int8] [--variants 64:4:sg,…] [--reps 30] [--rotate-mib 160] [--json]',
  options: {
    dim: { type: 'string', default: '2048' },
    hidden: { type: 'string', default: '5632' },
    heads: { type: 'string', default: '32' },
    'kv-heads': { type: 'string', default: '4' },
    'head-dim': { type: 'string', default: '64' },
    vocab: { type: 'string', default: '32000' },
    precision: { type: 'string', default: 'fp16,int8' },
    variants: { type: 'string', default: '32:4:sg,64:2:sg,64:4:sg,64:8:sg,128:4:sg,128:8:sg,256:4:sg,256:8:sg,64:4:wg' },
    reps: { type: 'string', default: '30' },
    'rotate-mib': { type: 'string', default: '160' },
    json: { type: 'boolean', default: false },
  },
} as const satisfies CliSpec;

export const SERVE_DIR = {
  usage: 'usage: tsx scripts/serve-dir.ts <dir> [--port 0] [--ignore-range] [--drop-after N] [--slow BYTES_PER_S]',
  positionals: true,
  options: {
    port: { type: 'string', default: '0' },
    'ignore-range': { type: 'boolean', default: false },
    'drop-after': { type: 'string' },
    slow: { type: 'string' },
  },
} as const satisfies CliSpec;

export const DIAG_INT8_HOST = {
  usage:
    'usage: node --expose-gc --import tsx --import ./scripts/raw-hooks.mjs scripts/diag-int8-host.ts <dir>\n' +
    '         [--variant none|int8|gc|release|alloc|kernel] [--reader thread|main] [--warm] [--rows N] [--maps]',
  positionals: true,
  options: {
    variant: { type: 'string', default: 'int8' },
    reader: { type: 'string', default: 'main' },
    warm: { type: 'boolean', default: false },
    rows: { type: 'string' },
    maps: { type: 'boolean', default: false },
  },
} as const satisfies CliSpec;

export const DIAG_STREAM = {
  usage:
    'usage: node --expose-gc --import tsx --import ./scripts/raw-hooks.mjs scripts/diag-stream.ts <dir> [--mib 512]\n' +
    '         [--stages raw,gather,convert,upload,uploadDrain] [--chunk BYTES]',
  positionals: true,
  options: {
    mib: { type: 'string', default: '512' },
    stages: { type: 'string', default: 'raw,gather,convert,upload,uploadDrain' },
    chunk: { type: 'string', default: String(4 << 20) },
  },
} as const satisfies CliSpec;
