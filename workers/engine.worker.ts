// The Web Worker entry: exposes one Engine over Comlink. Everything else under workers/ also runs in Node.
import * as Comlink from 'comlink';
import { installErrorTransfer } from './comlink-errors.ts';
import { Engine } from './engine.ts';

installErrorTransfer();
Comlink.expose(new Engine({ gpu: () => navigator.gpu, baseHref: self.location.href }));
