// The model families the engine runs, keyed by the `architectures` name of config.json, with what each one changes
// in the one forward pass (transformer.ts), as Hugging Face's modelling code does it; and the families still out of
// reach, refused by name with what they would need.
// Sources (transformers): models/{llama,mistral,qwen2,qwen3,gemma2,gemma3,phi3,smollm3,olmo2,granite}/
// configuration_*.py and modeling_*.py.

export type Family = 'llama' | 'mistral' | 'qwen2' | 'qwen3' | 'gemma2' | 'gemma3' | 'phi3' | 'smollm3' | 'olmo2' | 'granite';

export const ARCHITECTURES = {
  LlamaForCausalLM: 'llama',
  MistralForCausalLM: 'mistral',
  Qwen2ForCausalLM: 'qwen2',
  Qwen3ForCausalLM: 'qwen3',
  Gemma2ForCausalLM: 'gemma2',
  Gemma3ForCausalLM: 'gemma3',
  /** Gemma 3 with its vision tower: the language model alone is loaded (config.text_config). */
  Gemma3ForConditionalGeneration: 'gemma3',
  Phi3ForCausalLM: 'phi3',
  SmolLM3ForCausalLM: 'smollm3',
  Olmo2ForCausalLM: 'olmo2',
  GraniteForCausalLM: 'granite',
} as const satisfies Record<string, Family>;

export type Architecture = keyof typeof ARCHITECTURES;

export function isArchitecture(name: string): name is Architecture {
  return Object.hasOwn(ARCHITECTURES, name);
}

/** Where a layer's RMSNorms sit. */
export type NormPlacement =
  /** Llama: input_layernorm before attention, post_attention_layernorm before the MLP. */
  | 'pre'
  /** Gemma 2 / 3: input_layernorm and pre_feedforward_layernorm before, post_attention_layernorm and
   * post_feedforward_layernorm on the attention and MLP outputs before their residual adds. */
  | 'sandwich'
  /** OLMo 2: no norm before attention or MLP; post_attention_layernorm and post_feedforward_layernorm on their outputs. */
  | 'post';

/** Where q and k are RMS-normalized after their projections, before RoPE. */
export type QkNorm =
  | 'none'
  /** Qwen 3, Gemma 3: over head_dim, per head (q_norm / k_norm weights [head_dim]). */
  | 'head'
  /** OLMo 2: over the whole projection (q_norm [heads × head_dim], k_norm [kv_heads × head_dim]). */
  | 'projection';

export interface FamilyTraits {
  /** RMSNorm multiplies by w (0) or by 1 + w (Gemma: 1). */
  normWeightOffset: 0 | 1;
  normPlacement: NormPlacement;
  qkNorm: QkNorm;
  /** Token embeddings × sqrt(hidden_size), rounded to the checkpoint's dtype as transformers does (Gemma). */
  embedSqrtHidden: boolean;
  /** Q/K/V in one qkv_proj, gate/up in one gate_up_proj (Phi-3). */
  fused: boolean;
  /** transformers' default of tie_word_embeddings for this family. */
  tiedByDefault: boolean;
  /** Config defaults transformers' config class has where a hub config leaves the key out. */
  defaults: Record<string, unknown>;
}

const LLAMA: FamilyTraits = {
  normWeightOffset: 0,
  normPlacement: 'pre',
  qkNorm: 'none',
  embedSqrtHidden: false,
  fused: false,
  tiedByDefault: false,
  defaults: {},
};

const GEMMA: FamilyTraits = {
  ...LLAMA,
  normWeightOffset: 1,
  normPlacement: 'sandwich',
  embedSqrtHidden: true,
  tiedByDefault: true,
};

export const FAMILY_TRAITS: Record<Family, FamilyTraits> = {
  llama: LLAMA,
  mistral: LLAMA,
  qwen2: LLAMA,
  qwen3: { ...LLAMA, qkNorm: 'head' },
  gemma2: {
    ...GEMMA,
    defaults: {
      head_dim: 256,
      query_pre_attn_scalar: 256,
      hidden_activation: 'gelu_pytorch_tanh',
      sliding_window: 4096,
      attn_logit_softcapping: 50,
      final_logit_softcapping: 30,
    },
  },
  gemma3: {
    ...GEMMA,
    qkNorm: 'head',
    // Gemma3TextConfig: the text_config of Gemma3ForConditionalGeneration checkpoints leaves most of these out.
    defaults: {
      vocab_size: 262_208,
      hidden_size: 2304,
      intermediate_size: 9216,
      num_hidden_layers: 26,
      num_attention_heads: 8,
      num_key_value_heads: 4,
      head_dim: 256,
      hidden_activation: 'gelu_pytorch_tanh',
      max_position_embeddings: 131_072,
      rms_norm_eps: 1e-6,
      rope_theta: 1_000_000,
      rope_local_base_freq: 10_000,
      query_pre_attn_scalar: 256,
      sliding_window: 4096,
      sliding_window_pattern: 6,
    },
  },
  phi3: { ...LLAMA, fused: true },
  smollm3: { ...LLAMA, tiedByDefault: true },
  olmo2: { ...LLAMA, normPlacement: 'post', qkNorm: 'projection' },
  granite: LLAMA,
};

/** Families the engine cannot run yet, refused by name with what they need that the engine lacks. */
export const OUT_OF_REACH: Record<string, { name: string; needs: string }> = {
  Qwen3NextForCausalLM: {
    name: 'Qwen3-Next',
    needs: 'Gated DeltaNet linear-attention layers (a recurrent state per layer) between gated full-attention layers, and a mixture-of-experts MLP',
  },
  Qwen3_5ForCausalLM: {
    name: 'Qwen3.5',
    needs: 'Gated DeltaNet linear-attention layers (a recurrent state per layer) between gated full-attention layers',
  },
  Qwen3_5ForConditionalGeneration: {
    name: 'Qwen3.5',
    needs: 'Gated DeltaNet linear-attention layers (a recurrent state per layer) between gated full-attention layers, and a vision encoder',
  },
  Qwen3_5MoeForConditionalGeneration: {
    name: 'Qwen3.5 MoE',
    needs: 'Gated DeltaNet linear-attention layers and a mixture-of-experts MLP (a router and expert weights)',
  },
  Gemma3nForCausalLM: {
    name: 'Gemma 3n',
    needs: 'per-layer embeddings, AltUp and LAuReL blocks, KV-cache sharing across layers and activation sparsity',
  },
  Gemma3nForConditionalGeneration: {
    name: 'Gemma 3n',
    needs: 'per-layer embeddings, AltUp and LAuReL blocks, KV-cache sharing across layers and activation sparsity',
  },
  Gemma4ForCausalLM: {
    name: 'Gemma 4',
    needs: 'per-layer-type head shapes (global_head_dim), keys shared as values on global layers, a V RMSNorm, proportional partial RoPE and per-layer scalars',
  },
  Gemma4ForConditionalGeneration: {
    name: 'Gemma 4',
    needs: 'per-layer-type head shapes (global_head_dim), keys shared as values on global layers, a V RMSNorm, proportional partial RoPE and per-layer scalars',
  },
  GraniteMoeHybridForCausalLM: {
    name: 'Granite 4 (hybrid)',
    needs: 'Mamba-2 state-space layers and a mixture-of-experts MLP',
  },
};

const MOE_KEYS = ['num_experts', 'num_local_experts', 'n_routed_experts', 'moe_num_experts'];

/** A mixture-of-experts config: an experts count above 1 under any of the names the hub uses. */
export function mixtureOfExperts(cfg: Record<string, unknown>): string | null {
  for (const k of MOE_KEYS) {
    const v = cfg[k];
    if (typeof v === 'number' && v > 1) return k;
  }
  return null;
}
