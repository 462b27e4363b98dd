// Comlink carries thrown errors as {name, message, stack} by default; this handler keeps EngineError's code and
// details so the UI can rebuild a typed error. Registered on both sides of the boundary (worker and UI).
import * as Comlink from 'comlink';
import { deserializeError, serializeError, type SerializedEngineError } from './errors.ts';

export function installErrorTransfer(): void {
  const builtin = Comlink.transferHandlers.get('throw');
  if (!builtin) throw new Error('comlink: no built-in throw handler');
  Comlink.transferHandlers.set('throw', {
    // Comlink marks thrown values with a private symbol; its own canHandle knows it.
    canHandle: builtin.canHandle,
    serialize: (thrown: unknown) => [serializeError((thrown as { value: unknown }).value), []],
    deserialize: (s: unknown) => {
      throw deserializeError(s as SerializedEngineError);
    },
  } as Comlink.TransferHandler<unknown, SerializedEngineError>);
}
