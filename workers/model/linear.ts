// A linear layer y = x Wᵀ (+ b) as a decoder layer uses it, with what comes right before and after it: x is read as it
// is or through an RMSNorm, and the product goes into one of the epilogues of kernels/matvec-io.ts — stored, added to
// the residual stream, gated (GLU, over gate and up rows concatenated in blocks), or rotated into q and the KV cache
// (q, k and v rows concatenated). One token (a decode step) is one dispatch: the one-token product with the norm and
// the epilogue fused in. Several tokens (a prompt chunk) are the norm, the tiled product into a row per token, and the
// epilogue's own kernel (linear-io.ts). The fp16 layer and the LLM.int8 layer are two kinds of layer chosen when the
// weights are built; forward() has no precision branches.
import type { BufferGroup } from '../gpu/ledger.ts';
import type { ComputePass } from '../gpu/pass-recorder.ts';
import type { MatVecEpilogue, MatVecNorm } from '../kernels/matvec-io.ts';

/** What a product reads and where it goes. */
export interface LinearIo {
  /** f32 [maxTokens, inFeatures]; one token is read from row Step.row. */
  x: GPUBuffer;
  /** RMSNorm applied to x where the product reads it, or null. */
  norm: MatVecNorm | null;
  epilogue: MatVecEpilogue;
  /** The Step uniform of the forwards this binding serves. */
  step: GPUBuffer;
  /** Several tokens with a norm: f32 [maxTokens, inFeatures] for x through it. */
  xn?: GPUBuffer;
  /** Several tokens, epilogue other than store: f32 [maxTokens, outFeatures] for the product before its epilogue. */
  y?: GPUBuffer;
}

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
   * Builds once what encode() records for up to maxTokens rows (1: the one-token product only). Scratch buffers and
   * uniforms are created through `group` (so the ledger sees them).
   */
  bind(io: LinearIo, maxTokens: number, group: BufferGroup): LinearBinding;
  /** Records the product and its epilogue for the first `tokens` rows (tokens must equal what the Step uniform says). */
  encode(pass: ComputePass, binding: LinearBinding, tokens: number): void;
  /** Frees the weights (the owning group may also do it). */
  destroy(): void;
}

/**
 * Rows of gate, then of up, per block of a concatenated gate/up weight (the glu epilogue's layout): the largest power of
 * two up to 64 that divides the hidden size, so a weight split across bindings can break between blocks.
 */
export function gluBlock(hidden: number): number {
  let b = 64;
  while (hidden % b !== 0) b /= 2;
  return b;
}
