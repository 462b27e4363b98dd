import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { numberOption, parseCli, UsageError, type CliSpec } from './cli.ts';
import * as specs from './cli-specs.ts';

const ALL: Record<string, CliSpec> = {
  'gen-checkpoint': specs.GEN_CHECKPOINT,
  verify: specs.VERIFY,
  'bench load': specs.BENCH_LOAD,
  'bench decode': specs.BENCH_DECODE,
  'bench quality': specs.BENCH_QUALITY,
  'bench hash': specs.BENCH_HASH,
  'bench-attention': specs.BENCH_ATTENTION,
  'bench-matvec': specs.BENCH_MATVEC,
  'serve-dir': specs.SERVE_DIR,
  'diag-stream': specs.DIAG_STREAM,
};

function usageError(f: () => unknown): UsageError {
  try {
    f();
  } catch (e) {
    if (e instanceof UsageError) return e;
    throw e;
  }
  throw new Error('no UsageError');
}

describe('every CLI parses strictly and prints its usage on what it does not take', () => {
  for (const [name, spec] of Object.entries(ALL)) {
    it(name, () => {
      expect(spec.usage).toMatch(/^usage: /);
      // every option the spec takes appears in its usage
      for (const option of Object.keys(spec.options)) expect(spec.usage, `${name} --${option}`).toContain(`--${option}`);
      const typo = usageError(() => parseCli(spec, ['--parms', '1e6']));
      expect(typo.exitCode).toBe(2);
      expect(typo.message).toMatch(/Unknown option '--parms'/);
      expect(typo.message).toContain(spec.usage);
      // a string option without its value
      const stringOption = Object.entries(spec.options).find(([, o]) => o.type === 'string')![0];
      expect(usageError(() => parseCli(spec, [`--${stringOption}`])).message).toMatch(new RegExp(`--${stringOption}`));
      // positionals only where the CLI takes them (a folder)
      if (spec.positionals) expect(parseCli(spec, ['some/dir']).positionals).toEqual(['some/dir']);
      else expect(usageError(() => parseCli(spec, ['stray'])).message).toMatch(/Unexpected argument 'stray'/);
      const help = usageError(() => parseCli(spec, ['--help']));
      expect([help.exitCode, help.message]).toEqual([0, spec.usage]);
      expect(usageError(() => parseCli(spec, ['-h'])).exitCode).toBe(0);
    });
  }

  it('takes the documented command lines, with their defaults', () => {
    expect(parseCli(specs.GEN_CHECKPOINT, ['--out', 'bench-data/x', '--params', '1e6']).values).toEqual({ out: 'bench-data/x', params: '1e6', dtype: 'bf16', fast: false });
    expect(parseCli(specs.GEN_CHECKPOINT, ['--out', 'd', '--shape', 'llama-7b', '--shard-gb', '2', '--fast']).values).toMatchObject({ shape: 'llama-7b', 'shard-gb': '2', fast: true });
    expect(parseCli(specs.GEN_CHECKPOINT, ['--out', 'd']).values.params).toBe('1.1e9');
    expect(parseCli(specs.VERIFY, ['--model', 'm', '--precision', 'int8', '--int8-lm-head', '--json']).values).toMatchObject({
      model: 'm', precision: 'int8', 'int8-lm-head': true, json: true, verbose: false,
    });
    expect(parseCli(specs.BENCH_LOAD, ['--model', 'm', '--strategy', 'naive,streamed', '--cache', '/tmp/c']).values).toMatchObject({
      model: 'm', strategy: 'naive,streamed', cache: '/tmp/c', repeat: '1', reader: 'thread', ring: '4', json: false,
    });
    expect(parseCli(specs.BENCH_DECODE, ['--model', 'm', '--contexts', '16,512']).values).toMatchObject({ contexts: '16,512', steps: '16', precision: 'fp16' });
    expect(parseCli(specs.BENCH_QUALITY, []).values.model).toBe('public/models/kjv-llama');
    expect(parseCli(specs.SERVE_DIR, ['dir', '--port', '8080', '--ignore-range']).values).toMatchObject({ port: '8080', 'ignore-range': true });
    expect(parseCli(specs.DIAG_INT8_HOST, ['dir', '--variant', 'none', '--warm']).values).toMatchObject({ variant: 'none', warm: true, reader: 'main', maps: false });
    expect(parseCli(specs.DIAG_STREAM, ['dir', '--mib', '64']).values).toMatchObject({ mib: '64', stages: 'raw,gather,convert,upload,uploadDrain' });
    // a boolean option given a value is refused, not read as true
    expect(usageError(() => parseCli(specs.VERIFY, ['--json=yes'])).message).toMatch(/--json/);
  });

  it('numbers are checked, naming the option', () => {
    expect(numberOption(specs.GEN_CHECKPOINT, 'params', '1e6')).toBe(1e6);
    for (const bad of ['', '1e6x', 'NaN', 'Infinity']) {
      const e = usageError(() => numberOption(specs.GEN_CHECKPOINT, 'params', bad));
      expect(e.message).toMatch(new RegExp(`^--params: a number, not '${bad}'`));
      expect(e.message).toContain(specs.GEN_CHECKPOINT.usage);
    }
    expect(usageError(() => numberOption(specs.BENCH_LOAD, 'ring', '0', (n) => n >= 1, 'a whole number ≥ 1')).message).toMatch(/^--ring: a whole number ≥ 1, not '0'/);
  });

  it('bench lists every subcommand in its usage', () => {
    for (const [name, spec] of Object.entries(specs.BENCH_SUBCOMMANDS)) {
      expect(spec.usage).toMatch(new RegExp(`^usage: npm run bench -- ${name} `));
      expect(specs.BENCH_USAGE).toMatch(new RegExp(`^  ${name} `, 'm'));
    }
  });

  it('gen-checkpoint with a typo exits 2 with its usage and writes nothing (the reported --parms)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gen-typo-'));
    const out = join(dir, 'ckpt');
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/gen-checkpoint.ts', '--out', out, '--parms', '1e6'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("Unknown option '--parms'");
    expect(r.stderr).toContain(specs.GEN_CHECKPOINT.usage);
    expect(existsSync(out)).toBe(false);
  });

  it('each CLI, run with a typo, exits 2 before doing anything, with its usage', async () => {
    const tsx = ['--import', 'tsx', '--import', './scripts/raw-hooks.mjs'];
    const runs: [string[], string][] = [
      [[...tsx, 'scripts/verify.ts', '--model', 'x', '--parms', '1'], specs.VERIFY.usage],
      [[...tsx, 'scripts/bench.ts', 'load', '--model', 'x', '--parms', '1'], specs.BENCH_LOAD.usage],
      [[...tsx, 'scripts/bench.ts', 'decode', '--parms', '1'], specs.BENCH_DECODE.usage],
      [[...tsx, 'scripts/bench.ts', 'quality', '--parms', '1'], specs.BENCH_QUALITY.usage],
      [[...tsx, 'scripts/bench.ts', 'hash', '--parms', '1'], specs.BENCH_HASH.usage],
      [[...tsx, 'scripts/bench.ts', 'lod'], specs.BENCH_USAGE],
      [[...tsx, 'scripts/bench-attention.ts', '--parms', '1'], specs.BENCH_ATTENTION.usage],
      [[...tsx, 'scripts/serve-dir.ts', 'public', '--parms', '1'], specs.SERVE_DIR.usage],
      [[...tsx, 'scripts/diag-stream.ts', 'public', '--parms', '1'], specs.DIAG_STREAM.usage],
      [['scripts/ensure-deps.mjs', '--parms', '1'], 'usage: node scripts/ensure-deps.mjs'],
      [['scripts/device/pack.mjs', '--parms', '1'], 'usage: node scripts/device/pack.mjs'],
    ];
    const results = await Promise.all(
      runs.map(
        ([args]) =>
          new Promise<{ code: number | null; stderr: string }>((resolve) => {
            const child = execFile(process.execPath, args, { encoding: 'utf8', timeout: 60_000 }, (_e, _out, stderr) => resolve({ code: child.exitCode, stderr }));
          }),
      ),
    );
    for (const [i, [args, usage]] of runs.entries()) {
      const what = args.filter((a) => a.startsWith('scripts/') || !a.startsWith('-')).join(' ');
      expect(results[i].code, what).toBe(2);
      expect(results[i].stderr, what).toContain(usage);
    }
  }, 120_000);
});
