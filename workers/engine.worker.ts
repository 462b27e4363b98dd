// The Web Worker entry: exposes one Engine over Comlink. Everything else under workers/ also runs in Node.
import * as Comlink from 'comlink';
import { OpfsBackend } from './cache/opfs.ts';
import { installErrorTransfer } from './comlink-errors.ts';
import { Engine } from './engine.ts';

installErrorTransfer();
// Same-origin model paths (`models/kjv-llama/`) resolve against the app's base URL, not the worker script's own URL
// (which lives under assets/ in a build).
const appBase = new URL(import.meta.env.BASE_URL, self.location.origin).href;
// No OPFS (an old browser, some private modes): loads go uncached, and the cache panel says so.
Comlink.expose(new Engine({ gpu: () => navigator.gpu, baseHref: appBase, cacheBackend: OpfsBackend.available() }));
