// The Web Worker entry: exposes one Engine over Comlink. Everything else under workers/ also runs in Node.
// The library's client sends the page's URL with each load (LoadRequest.baseHref): same-origin model paths resolve
// against it. The fallback is the origin's root (a worker's own location may be a blob: URL or under assets/).
import * as Comlink from 'comlink';
import { OpfsBackend } from './cache/opfs.ts';
import { installErrorTransfer } from './comlink-errors.ts';
import { Engine } from './engine.ts';

installErrorTransfer();
// No OPFS (an old browser, some private modes): loads go uncached, and the cache panel says so.
Comlink.expose(new Engine({ gpu: () => navigator.gpu, baseHref: `${self.location.origin}/`, cacheBackend: OpfsBackend.available() }));
