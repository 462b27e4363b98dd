// errors.html: every error the app can show, as the app's own banner renders it, one per engine error code (and the
// variants a code has), with a sample of the engine's message. For reviewing the words, and for the e2e test that
// checks each code renders its own message; most codes also have a real failure behind them in e2e/errors.spec.ts.
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { EngineError, type EngineErrorCode, type EngineErrorDetails } from '../workers/errors.ts';
import { ErrorView } from './components/ErrorView.tsx';
import { describeError, ERROR_CODES } from './error-messages.ts';
import './styles.css';

const HUB = 'https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct/resolve/main/';
const SITE = `${location.origin}/models/my-model/`;

/** A sample of what the engine says for each code (the detail line), with the details the words depend on. */
const SAMPLES: Record<EngineErrorCode, [string, EngineErrorDetails]> = {
  'no-webgpu': ['navigator.gpu is undefined', {}],
  'device-lost': ['the GPU device was lost: destroyed', {}],
  'out-of-memory': ['creating weights model.layers.3.mlp.up_proj.weight (48.0 MiB) failed: out of memory', { tensor: 'model.layers.3.mlp.up_proj.weight' }],
  'will-not-fit': ['it needs 2.1 GiB and the VRAM budget is 1.0 GiB', {}],
  network: [`could not fetch model.safetensors: connection lost at byte 4194304`, { file: `${SITE}model.safetensors` }],
  cors: ['could not fetch config.json from https://models.example.org: the server refused the cross-origin request (CORS)', { file: 'https://models.example.org/m/config.json' }],
  http: [`model.safetensors: not found (404) at ${SITE}model.safetensors`, { file: `${SITE}model.safetensors`, status: 404 }],
  'bad-file': [`${SITE}tokenizer.json is missing: the model cannot be used without it`, { file: `${SITE}tokenizer.json`, missing: true }],
  unsupported: ["model_type 'gpt2' is not supported", { file: `${SITE}config.json` }],
  cancelled: ['the load was cancelled', {}],
  'bad-input': ['contextLength must be a whole number from 16', { setting: 'contextLength' }],
  'bad-config': ["config.json: 'rope_theta' must be more than 0, got 0", { file: 'config.json', setting: 'rope_theta' }],
  'file-changed': [
    'model.safetensors changed on the server during the load (ETag: "a1" when the load began, now "b2"); nothing of the two versions was mixed',
    { file: `${SITE}model.safetensors`, changed: 'ETag' },
  ],
  storage: ['cannot keep model.safetensors in the Origin Private File System: it needs 500 MB more', { file: 'model.safetensors' }],
  offline: [`cannot load ${HUB} offline: the network could not be reached, and config.json is not in the cache`, { file: `${HUB}config.json`, model: HUB, kept: false }],
  'context-full': [
    'the conversation is 2071 tokens, more than the 2048 the context holds: dropping the 2 oldest turns makes it fit',
    { setting: 'messages', promptTokens: 2071, contextLength: 2048, trimTurns: 2 },
  ],
  internal: ["Cannot read properties of undefined (reading 'size')", {}],
};

const VARIANTS: [string, EngineError][] = [
  ['bad-file: a SHA-256 mismatch', new EngineError('bad-file', 'model.safetensors: the downloaded file does not match its published SHA-256', { file: `${HUB}model.safetensors`, mismatch: 'sha256' })],
  ['bad-file: unreadable', new EngineError('bad-file', 'model.safetensors: header length 9e18 is larger than the file', { file: `${SITE}model.safetensors` })],
  ['offline: partly cached', new EngineError('offline', 'model.safetensors is only partly in the cache', { file: `${SITE}model.safetensors`, model: SITE, kept: true })],
  ['cors: the hub (unreachable)', new EngineError('cors', 'could not fetch config.json from https://huggingface.co', { file: `${HUB}config.json` })],
  ['http 403', new EngineError('http', 'access denied (403)', { file: `${HUB}model.safetensors`, status: 403 })],
  ['http 429', new EngineError('http', 'HTTP 429', { file: `${HUB}model.safetensors`, status: 429 })],
  ['http 503', new EngineError('http', 'HTTP 503', { file: `${HUB}model.safetensors`, status: 503 })],
  ['network: a redirect loop', new EngineError('network', 'could not fetch config.json: the server answers with redirects that do not end', { file: `${SITE}config.json`, redirect: true })],
  ['network: a stalled server', new EngineError('network', 'model.safetensors: no data for 30.0 s at byte 4194304 (the server stalled)', { file: `${SITE}model.safetensors`, stalled: true })],
  ['storage: the cache removed mid-load', new EngineError('storage', "the cache's files were removed while the load was keeping model.safetensors", { file: 'model.safetensors', reason: 'removed' })],
];

function Gallery() {
  return (
    <main className="app gallery">
      <header className="app-header">
        <h1>Every error message</h1>
        <p className="tagline">What the app says for each engine error code, as its banner shows it (samples of the engine’s detail).</p>
      </header>
      {ERROR_CODES.map((code) => (
        <article key={code} data-testid="gallery-item" data-code={code}>
          <h2 className="mono">{code}</h2>
          <ErrorView error={describeError(new EngineError(code, ...SAMPLES[code]), 'load')} />
        </article>
      ))}
      <h2>Variants within a code</h2>
      {VARIANTS.map(([name, e]) => (
        <article key={name} data-testid="gallery-variant" data-code={e.code}>
          <h3 className="mono">{name}</h3>
          <ErrorView error={describeError(e, 'load')} />
        </article>
      ))}
    </main>
  );
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <Gallery />
  </StrictMode>,
);
