// A linear layer y = x Wᵀ (+ b) as the transformer sees it. The fp16 layer and the LLM.int8 layer are two kinds of
// layer chosen when the weights are built; forward() has no precision branches.
import type { BufferGroup } from '../gpu/ledger.ts';

/**
 * The per-forward uniform every kernel may read (written once per forward with queue.writeBuffer, 16 bytes):
 *   struct Step { tokens: u32, pos: u32, kv_len: u32, _pad: u32 }
 * tokens: rows of x in this forward (prompt chunk length, or 1 when decoding); pos: position of the first row;
 * kv_len: pos + tokens.
 */
export const STEP_UNIFORM_BYTES = 16;

export interface LinearBinding {
  /** Opaque to the caller: what encode() needs (bind groups, dispatch sizes). */
  readonly kind: string;
}

export interface LinearLayer {
  readonly name: string;
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** GPU bytes of the weights (+ scales, bias), for reports. */
  readonly bytes: number;
  /**
   * Builds once what encode() records: x is f32 [maxTokens, inFeatures], y is f32 [maxTokens, outFeatures], step is
   * the Step uniform. Scratch buffers and uniforms are created through `group` (so the ledger sees them).
   */
  bind(x: GPUBuffer, y: GPUBuffer, step: GPUBuffer, maxTokens: number, group: BufferGroup): LinearBinding;
  /** Records y = x Wᵀ (+ b) for the first `tokens` rows (tokens must equal what the Step uniform says). */
  encode(pass: GPUComputePassEncoder, binding: LinearBinding, tokens: number): void;
  /** Frees the weights (the owning group may also do it). */
  destroy(): void;
}
