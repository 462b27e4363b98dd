import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from '@playwright/test';
import { REF } from './kjv.ts';

// The library as a web developer gets it: `npm pack` of this repository (its prepack builds dist-lib), installed
// into a fresh Vite app in a temporary folder (no config, no other dependency: offline, from the tarball), built by
// Vite with its defaults, served by `vite preview` on its own fixed port (4180), and run in real Chromium: load the
// embedded kjv-llama, stream a greedy chat completion equal to the reference continuation, abort a stream, run
// another. kjv-llama has no chat template: one user message reaches it as its text, as the README says.

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const VITE = join(ROOT, 'node_modules/vite/bin/vite.js');
const PORT = 4180;
const URL_ = `http://127.0.0.1:${PORT}/`;

let dir = '';
let server: ChildProcess | null = null;

function run(cmd: string, args: string[], cwd: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, npm_config_fund: 'false', npm_config_audit: 'false' } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) failed:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

async function waitForServer(url: string, ms: number): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > until) throw new Error(`${url} did not answer within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

interface Reply {
  text: string;
  finish: string | null;
  first: { object: string; choices: { delta: { role?: string } }[] } | null;
  chunks: number;
  usage: { prompt_tokens: number; completion_tokens: number; prompt_tokens_details: { cached_tokens: number } } | null;
}

test.describe('the packed library in a fresh Vite app', () => {
  test.beforeAll(async () => {
    test.setTimeout(300_000);
    dir = mkdtempSync(join(tmpdir(), 'webgpu-llm-app-'));
    run('npm', ['pack', '--pack-destination', dir], ROOT);
    const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'));
    if (!tarball) throw new Error(`npm pack left no tarball in ${dir}`);
    const app = join(dir, 'app');
    mkdirSync(app);
    writeFileSync(
      join(app, 'package.json'),
      JSON.stringify({ name: 'packed-app', private: true, type: 'module', dependencies: { 'webgpu-llm': `file:../${tarball}` } }, null, 2),
    );
    run('npm', ['install', '--offline', '--no-audit', '--no-fund'], app);
    cpSync(join(ROOT, 'e2e/packed-app'), app, { recursive: true });
    const model = join(app, 'public/models/kjv-llama');
    mkdirSync(model, { recursive: true });
    for (const f of ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors']) {
      cpSync(join(ROOT, 'public/models/kjv-llama', f), join(model, f));
    }
    run(process.execPath, [VITE, 'build'], app);
    server = spawn(process.execPath, [VITE, 'preview', '--host', '127.0.0.1', '--port', String(PORT), '--strictPort'], { cwd: app, stdio: 'ignore' });
    await waitForServer(URL_, 30_000);
  });

  test.afterAll(() => {
    server?.kill();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('loads kjv-llama, streams the reference greedy reply, aborts a stream and streams another', async ({ page }, testInfo) => {
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(URL_);
    await expect(page.locator('#status')).toHaveText('ready');
    // calls window.demo[fn](...args) in the page (e2e/packed-app/main.ts)
    const demo = <T>(fn: string, ...args: unknown[]): Promise<T> =>
      page.evaluate(
        ({ fn, args }) => (window as unknown as { demo: Record<string, (...a: unknown[]) => Promise<unknown>> }).demo[fn](...args),
        { fn, args },
      ) as Promise<T>;

    expect(await demo<string>('load')).toBe('streamed');
    const info = await demo<{ gpu: { adapter: { vendor: string } }; model: { hasChatTemplate: boolean } }>('info');
    expect(info.model.hasChatTemplate).toBe(false);

    const first = await demo<Reply>('chat', REF.text, REF.greedy_ids.length);
    expect(first.text).toBe(REF.greedy_text);
    expect(first.finish).toBe('length');
    expect(first.first).toMatchObject({ object: 'chat.completion.chunk', choices: [{ delta: { role: 'assistant' } }] });
    expect(first.usage).toMatchObject({ prompt_tokens: REF.ids.length, completion_tokens: REF.greedy_ids.length });
    await expect(page.locator('#out')).toHaveText(REF.greedy_text);

    const aborted = await demo<Reply>('chat', REF.text, 1000, 20);
    expect(aborted.finish).toBe('abort');
    expect(aborted.text.length).toBeGreaterThanOrEqual(20);
    expect(REF.greedy_text.startsWith(aborted.text)).toBe(true);
    expect(aborted.usage!.completion_tokens).toBeLessThan(REF.greedy_ids.length);

    const again = await demo<Reply>('chat', REF.text, REF.greedy_ids.length);
    expect(again.text).toBe(REF.greedy_text);
    expect(again.finish).toBe('length');
    // the same prompt again: its KV cache was kept, all but its last token
    expect(again.usage!.prompt_tokens_details.cached_tokens).toBe(REF.ids.length - 1);

    const completion = await demo<{ object: string; choices: { text: string; finish_reason: string }[] }>('complete', REF.text, 8);
    expect(completion.object).toBe('text_completion');
    expect(REF.greedy_text.startsWith(completion.choices[0].text)).toBe(true);
    expect(completion.choices[0].text.length).toBeGreaterThan(10);

    await page.screenshot({ path: testInfo.outputPath('packed-app.png') });
    expect(errors).toEqual([]);
  });
});
