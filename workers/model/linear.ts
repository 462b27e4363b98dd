// A linear layer y = x Wᵀ (+ b) as the transformer sees it. The fp16 layer and the LLM.int8 layer are two kinds of
// layer chosen when the weights are built; forward() has no precision branches.
import type { BufferGroup } from '../gpu/ledger.ts';

/**
 * Work a layer records on its input x before its product that depends on x and the stage's own settings alone, never
 * on the layer's weight: for the LLM.int8 layer, the outlier columns (|x| >= threshold) and the per-token int8
 * quantization of x. Layers bound to the same x with the same settings hand out the same stage object, so one
 * recording of it (after x was last written) serves all of them: see bindSharedInput.
 */
export interface InputStage {
  /** Records the stage for the first `tokens` rows of x (tokens must equal what the Step uniform says). */
  encode(pass: GPUComputePassEncoder, tokens: number): void;
}

export interface LinearBinding {
  /** Opaque to the caller: what encode() needs (bind groups, dispatch sizes). */
  readonly kind: string;
  /** The input stage the product needs recorded first, or null when the product reads x as it is (fp16). */
  readonly input: InputStage | null;
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
  /**
   * Records the product alone: binding.input (if any) must have been recorded for the same `tokens` after x was last
   * written. encode() is binding.input's encode, then this.
   */
  encodeProduct(pass: GPUComputePassEncoder, binding: LinearBinding, tokens: number): void;
  /** Frees the weights (the owning group may also do it). */
  destroy(): void;
}

/** Several linear layers that read the same x, each into its own y (q/k/v; gate/up). */
export interface SharedInputBinding {
  readonly products: readonly { readonly layer: LinearLayer; readonly binding: LinearBinding }[];
  /** The distinct input stages of the products' bindings, each recorded once per forward. */
  readonly stages: readonly InputStage[];
}

/**
 * Binds layers that all read x (f32 [maxTokens, inFeatures]) into their own outputs. Layers whose bindings share an
 * input stage (int8 layers with the same threshold) get it recorded once instead of once per layer; layers without
 * one (fp16) are recorded exactly as alone.
 */
export function bindSharedInput(
  x: GPUBuffer,
  outputs: readonly (readonly [LinearLayer, GPUBuffer])[],
  step: GPUBuffer,
  maxTokens: number,
  group: BufferGroup,
): SharedInputBinding {
  const products = outputs.map(([layer, y]) => ({ layer, binding: layer.bind(x, y, step, maxTokens, group) }));
  const stages = [...new Set(products.flatMap((p) => (p.binding.input ? [p.binding.input] : [])))];
  return { products, stages };
}

/**
 * Records every layer of a SharedInputBinding for the first `tokens` rows: each distinct input stage once, then the
 * products in order. Nothing here writes x or a stage's outputs between a stage and the products that read it, and
 * the stages are deterministic, so every y is bit-identical to recording each layer alone with encode().
 */
export function encodeSharedInput(pass: GPUComputePassEncoder, shared: SharedInputBinding, tokens: number): void {
  for (const stage of shared.stages) stage.encode(pass, tokens);
  for (const { layer, binding } of shared.products) layer.encodeProduct(pass, binding, tokens);
}
