// `bench hash`: the SHA-256 the cache computes, in MB/s on this machine: the whole-file check's resumable hasher
// (hash-wasm, WebAssembly, fed block by block with its state saved after each block as the cache does), the one-shot
// digest of a block (crypto.subtle, native), and Node's own createHash as the native ceiling. One JSON object.
//   npm run bench -- hash [--mib 256] [--block-mib 8] [--json]
import { createHash } from 'node:crypto';
import { Sha256, sha256Hex } from '../workers/cache/sha256.ts';
import { numberOption, parseCli } from './cli.ts';
import { BENCH_HASH } from './cli-specs.ts';

async function rate(bytes: number, run: () => Promise<string>): Promise<{ mbPerS: number; hex: string }> {
  await run(); // warm-up (WebAssembly compile, JIT)
  const t0 = performance.now();
  const hex = await run();
  return { mbPerS: bytes / 1e6 / ((performance.now() - t0) / 1000), hex };
}

export async function benchHash(argv: string[]): Promise<void> {
  const { values } = parseCli(BENCH_HASH, argv);
  const bytes = numberOption(BENCH_HASH, 'mib', values.mib, (n) => n > 0, 'MiB > 0') * 2 ** 20;
  const block = numberOption(BENCH_HASH, 'block-mib', values['block-mib'], (n) => n > 0 && (n * 2 ** 20) % 64 === 0, 'MiB > 0, a multiple of 64 bytes') * 2 ** 20;
  const data = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i += 4096) data[i] = (i * 2654435761) >>> 24;
  const resumable = await rate(bytes, async () => {
    let h = await Sha256.create();
    for (let o = 0; o < bytes; o += block) {
      h.update(data.subarray(o, o + block));
      if (o + block < bytes) h = await Sha256.restore(h.save()); // as the cache: saved after a block, restored later
    }
    return h.hex();
  });
  const blocks = await rate(bytes, async () => {
    let last = '';
    for (let o = 0; o < bytes; o += block) last = await sha256Hex(data.subarray(o, o + block));
    return last;
  });
  const node = await rate(bytes, async () => createHash('sha256').update(data).digest('hex'));
  if (resumable.hex !== node.hex) throw new Error(`bench hash: the resumable hash ${resumable.hex} differs from node:crypto's ${node.hex}`);
  const out = {
    bytes,
    blockBytes: block,
    wholeFileResumableMbPerS: resumable.mbPerS,
    blockDigestMbPerS: blocks.mbPerS,
    nodeCreateHashMbPerS: node.mbPerS,
  };
  console.log(values.json ? JSON.stringify(out) : JSON.stringify(out, null, 2));
}
