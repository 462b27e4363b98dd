// A web app that installed webgpu-llm from its npm tarball (e2e/packed-library.spec.ts builds it in a temporary
// folder with nothing but the package and Vite's defaults). The test drives it through window.demo.
import { createEngine, type ChatCompletionChunk, type CompletionUsage } from 'webgpu-llm';

const engine = createEngine();
const status = document.querySelector('#status')!;
const out = document.querySelector('#out')!;

interface Reply {
  text: string;
  finish: string | null;
  first: ChatCompletionChunk | null;
  chunks: number;
  usage: CompletionUsage | null;
}

async function chat(content: string, maxTokens: number, abortAfterChars = 0): Promise<Reply> {
  const abort = new AbortController();
  const stream = await engine.chat.completions.create({
    messages: [{ role: 'user', content }],
    stream: true,
    stream_options: { include_usage: true },
    temperature: 0,
    max_tokens: maxTokens,
    signal: abort.signal,
  });
  const reply: Reply = { text: '', finish: null, first: null, chunks: 0, usage: null };
  for await (const chunk of stream) {
    reply.first ??= chunk;
    reply.chunks++;
    const choice = chunk.choices[0];
    reply.text += choice?.delta.content ?? '';
    reply.finish = choice?.finish_reason ?? reply.finish;
    reply.usage = chunk.usage ?? reply.usage;
    if (abortAfterChars > 0 && reply.text.length >= abortAfterChars) abort.abort();
    out.textContent = reply.text;
  }
  return reply;
}

const demo = {
  async load(): Promise<string> {
    const report = await engine.load('models/kjv-llama/', { contextLength: 256, onProgress: (p) => (status.textContent = p.phase) });
    return report.strategy;
  },
  chat,
  async complete(prompt: string, maxTokens: number) {
    return engine.completions.create({ prompt, max_tokens: maxTokens, temperature: 0 });
  },
  async info() {
    return engine.info();
  },
};

(window as unknown as { demo: typeof demo }).demo = demo;
status.textContent = 'ready';
