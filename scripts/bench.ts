// Benchmarks in Node + Dawn: `npm run bench -- <subcommand> [options]`.
//   load --model <url-or-dir> --strategy <name>[,<name>...] [--repeat N] [--convert-on gpu|cpu] [--reader thread|main] [--chunk-mib 4] [--ring 4] [--int8-lm-head] [--json]
//   load --model <url-or-dir> --strategy streamed,streamed-int8 --cache <dir> [--int8-lm-head] [--json]   (cold, then warm)
//   decode --model <dir-or-url> [--precision fp16|int8[,...]] [--contexts 16,128,512] [--steps 16] [--profile] [--prefill N] [--matvec <variant>] [--json]
//   quality --model <dir> [--threshold 6] [--windows N] [--int8-lm-head] [--json]
//   hash [--mib 256] [--block-mib 8] [--json]
// Each subcommand lives in its own file and prints one JSON object per run; their options are in cli-specs.ts.
import { benchDecode } from './bench-decode.ts';
import { benchHash } from './bench-hash.ts';
import { benchLoad } from './bench-load.ts';
import { benchQuality } from './bench-quality.ts';
import { runCli, UsageError } from './cli.ts';
import { BENCH_SUBCOMMANDS, BENCH_USAGE } from './cli-specs.ts';

const RUN: Record<keyof typeof BENCH_SUBCOMMANDS, (argv: string[]) => Promise<void>> = {
  load: benchLoad,
  decode: benchDecode,
  quality: benchQuality,
  hash: benchHash,
};

async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  if (cmd === '--help' || cmd === '-h') throw new UsageError(BENCH_USAGE, 0);
  if (!cmd || !Object.hasOwn(RUN, cmd)) throw new UsageError(`${cmd ? `unknown subcommand '${cmd}'` : 'no subcommand'}\n${BENCH_USAGE}`);
  await RUN[cmd as keyof typeof RUN](rest);
}

runCli(() => main(process.argv.slice(2)));
