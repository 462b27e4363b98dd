// Benchmarks in Node + Dawn: `npm run bench -- <subcommand> [options]`.
//   load --model <url-or-dir> --strategy <name>[,<name>...] [--repeat N] [--convert-on gpu|cpu] [--reader thread|main] [--chunk-mib 4] [--ring 4] [--int8-lm-head] [--json]
//   load --model <url-or-dir> --strategy streamed,streamed-int8 --cache <dir> [--int8-lm-head] [--json]   (cold, then warm)
//   decode --model <dir-or-url> [--precision fp16|int8[,...]] [--contexts 16,128,512] [--steps 16] [--profile] [--prefill N] [--json]
//   quality --model <dir> [--threshold 6] [--windows N] [--int8-lm-head] [--json]
// Each subcommand lives in its own file and prints one JSON object per run.
import { benchDecode } from './bench-decode.ts';
import { benchLoad } from './bench-load.ts';
import { benchQuality } from './bench-quality.ts';

const SUBCOMMANDS: Record<string, { run: (argv: string[]) => Promise<void>; help: string }> = {
  decode: {
    run: benchDecode,
    help: 'decode --model <dir-or-url> [--precision fp16|int8[,...]] [--contexts 16,128,512] [--steps 16] [--threshold 6] [--profile] [--prefill N] [--json]',
  },
  quality: { run: benchQuality, help: 'quality --model <dir> [--threshold 6] [--windows N] [--int8-lm-head] [--json]' },
  load: { run: benchLoad, help: 'load --model <url-or-dir> --strategy naive|fp16|streamed[,...] [--repeat N] [--convert-on gpu|cpu] [--reader thread|main] [--chunk-mib 4] [--ring 4] [--cache <dir>] [--int8-lm-head] [--json]' },
};

async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  const sub = cmd ? SUBCOMMANDS[cmd] : undefined;
  if (!sub) {
    console.error('usage: npm run bench -- <subcommand> ...\n' + Object.values(SUBCOMMANDS).map((s) => '  ' + s.help).join('\n'));
    process.exit(2);
  }
  await sub.run(rest);
}

main(process.argv.slice(2)).then(
  () => process.exit(0), // Dawn keeps Node alive otherwise
  (e) => {
    console.error(e instanceof Error ? `${e.name}: ${e.message}` : e);
    if (e && typeof e === 'object' && 'details' in e) console.error(JSON.stringify((e as { details: unknown }).details));
    process.exit(1);
  },
);
