// Typed reads of config.json values. Each names the key it read when the value is missing or wrong, so a bad config
// is refused with the setting to fix (EngineError 'bad-config', details { file: 'config.json', setting }), and an option
// the engine cannot run with `refuse` ('unsupported', details { setting }).
import { EngineError } from '../errors.ts';

export type Json = Record<string, unknown>;

export function refuse(setting: string, message: string, details: Record<string, unknown> = {}): never {
  throw new EngineError('unsupported', message, { setting, ...details });
}

export function badValue(key: string, message: string): never {
  throw new EngineError('bad-config', `config.json: '${key}' ${message}`, { file: 'config.json', setting: key });
}

/**
 * Upper bounds on the sizes that drive work and memory before a weight is read (tensor names, the plan, the rope
 * table): far above any real checkpoint (Llama 3.1 405B: 126 layers, 128 heads, hidden 16384, intermediate 53248;
 * the largest vocabularies ~262k), low enough that a hostile config is refused at once instead of costing seconds
 * and gigabytes before another check refuses it.
 */
export const CONFIG_LIMITS: Readonly<Record<string, number>> = Object.freeze({
  num_hidden_layers: 1024,
  num_attention_heads: 1024,
  num_key_value_heads: 1024,
  hidden_size: 1 << 17,
  intermediate_size: 1 << 20,
  vocab_size: 1 << 22,
  head_dim: 1024,
  max_position_embeddings: 1 << 27,
  sliding_window: 1 << 27,
  original_max_position_embeddings: 1 << 27,
});

/** Absent and JSON null both mean "not given" (hub configs write both). */
export function given(cfg: Json, key: string): boolean {
  return cfg[key] !== undefined && cfg[key] !== null;
}

/** A finite number; `fallback` when the key is not given (missing without a fallback is an error). */
export function num(cfg: Json, key: string, fallback?: number): number {
  if (!given(cfg, key)) {
    if (fallback !== undefined) return fallback;
    return badValue(key, 'is missing');
  }
  const v = cfg[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) return badValue(key, `is not a number (${JSON.stringify(v)})`);
  // The engine computes in 32-bit floats: a value past their range would be infinite there (garbage out, silently).
  if (Math.abs(v) > F32_MAX) return badValue(key, `is ${v}, past the largest 32-bit float (${F32_MAX.toPrecision(3)}) the engine computes with`);
  return v;
}

/** The largest finite 32-bit float. */
const F32_MAX = 3.4028234663852886e38;

export function posNum(cfg: Json, key: string, fallback?: number): number {
  const v = num(cfg, key, fallback);
  if (!(v > 0)) return badValue(key, `must be positive, got ${v}`);
  return v;
}

/** A finite number ≥ 0 (an epsilon may be 0). */
export function nonNegative(cfg: Json, key: string, fallback?: number): number {
  const v = num(cfg, key, fallback);
  if (!(v >= 0)) return badValue(key, `must be 0 or more, got ${v}`);
  return v;
}

/** A positive number, or null when the key is not given (soft caps). */
export function optPosNum(cfg: Json, key: string): number | null {
  return given(cfg, key) ? posNum(cfg, key) : null;
}

export function posInt(cfg: Json, key: string, fallback?: number): number {
  const v = num(cfg, key, fallback);
  if (!Number.isInteger(v) || v <= 0) return badValue(key, `must be a positive integer, got ${v}`);
  const max = CONFIG_LIMITS[key];
  if (max !== undefined && v > max) badValue(key, `is ${v}, more than the ${max} this engine accepts`);
  return v;
}

/** true / false; `fallback` when not given. */
export function bool(cfg: Json, key: string, fallback: boolean): boolean {
  if (!given(cfg, key)) return fallback;
  const v = cfg[key];
  if (typeof v !== 'boolean') return badValue(key, `must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

/** A list of finite numbers of exactly `length` entries (when given). */
export function numList(cfg: Json, key: string, length?: number): number[] {
  const v = cfg[key];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'number' || !Number.isFinite(x))) {
    return badValue(key, 'must be a list of numbers');
  }
  if (length !== undefined && v.length !== length) return badValue(key, `must have ${length} entries, has ${v.length}`);
  return v as number[];
}

/** A JSON object, or null when not given. */
export function obj(cfg: Json, key: string): Json | null {
  if (!given(cfg, key)) return null;
  const v = cfg[key];
  if (typeof v !== 'object' || Array.isArray(v)) return badValue(key, 'must be an object');
  return v as Json;
}

export function str(cfg: Json, key: string, fallback: string): string {
  if (!given(cfg, key)) return fallback;
  const v = cfg[key];
  if (typeof v !== 'string') return badValue(key, `must be a string, got ${JSON.stringify(v)}`);
  return v;
}
