// The command line of workers/testing/http-server.ts (a static file server with HTTP Range support, for the load
// benchmark and the lent GPU machine):
//   tsx scripts/serve-dir.ts <dir> [--port 0] [--ignore-range] [--drop-after N] [--slow BYTES_PER_S]
// It prints one line `listening <url>` once ready.
import { serveDir, type Misbehaviour } from '../workers/testing/http-server.ts';

async function main(argv: string[]): Promise<void> {
  const [dir, ...rest] = argv;
  if (!dir) {
    console.error('usage: tsx scripts/serve-dir.ts <dir> [--port N] [--ignore-range] [--drop-after N] [--slow B/s]');
    process.exit(2);
  }
  const misbehave: Misbehaviour = {};
  let port = 0;
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    if (a === '--port') port = Number(rest[++i]);
    else if (a === '--ignore-range') misbehave.ignoreRange = true;
    else if (a === '--drop-after') misbehave.dropAfterBytes = Number(rest[++i]);
    else if (a === '--slow') misbehave.bytesPerSecond = Number(rest[++i]);
    else throw new Error(`unknown option ${a}`);
  }
  const h = await serveDir(dir, { port, misbehave });
  console.log(`listening ${h.url}`);
}

// Run as a CLI (tsx, or the bundled .gpu/serve-dir.mjs), not when imported by another script or bundled into one.
if (/[\\/]serve-dir\.(ts|mjs)$/.test(process.argv[1] ?? '')) {
  main(process.argv.slice(2)).catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
