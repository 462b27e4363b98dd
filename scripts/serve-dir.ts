// The command line of workers/testing/http-server.ts (a static file server with HTTP Range support, for the load
// benchmark and the lent GPU machine):
//   tsx scripts/serve-dir.ts <dir> [--port 0] [--ignore-range] [--drop-after N] [--slow BYTES_PER_S]
// It prints one line `listening <url>` once ready.
import { serveDir, type Misbehaviour } from '../workers/testing/http-server.ts';
import { numberOption, parseCli, runCli, UsageError } from './cli.ts';
import { SERVE_DIR } from './cli-specs.ts';

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseCli(SERVE_DIR, argv);
  const [dir, ...extra] = positionals;
  if (!dir || extra.length) throw new UsageError(`${dir ? `one folder, not ${positionals.length}` : 'no folder given'}\n${SERVE_DIR.usage}`);
  const misbehave: Misbehaviour = {};
  const port = numberOption(SERVE_DIR, 'port', values.port, (n) => Number.isInteger(n) && n >= 0 && n < 65536, 'a port number');
  if (values['ignore-range']) misbehave.ignoreRange = true;
  if (values['drop-after'] !== undefined) misbehave.dropAfterBytes = numberOption(SERVE_DIR, 'drop-after', values['drop-after'], (n) => n >= 0, 'bytes ≥ 0');
  if (values.slow !== undefined) misbehave.bytesPerSecond = numberOption(SERVE_DIR, 'slow', values.slow, (n) => n > 0, 'bytes per second > 0');
  const h = await serveDir(dir, { port, misbehave });
  console.log(`listening ${h.url}`);
}

// Run as a CLI (tsx, or the bundled .gpu/serve-dir.mjs), not when imported by another script or bundled into one.
if (/[\\/]serve-dir\.(ts|mjs)$/.test(process.argv[1] ?? '')) runCli(() => main(process.argv.slice(2)), { serve: true });
