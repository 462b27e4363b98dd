// The decoder-only transformer on WebGPU, in the shape of llama2.c's run.c: a Config (the blueprint, with the per-model
// recipe), the Weights (read-only), a RunState (activations and KV cache, allocated once), and forward() going top to
// bottom, one short comment per step, allocating nothing. One forward serves every family: what differs (norm kind and
// placement, q/k norms, activation, attention scale and soft cap, each layer's window and RoPE, the multipliers) is
// read from the recipe at bind time as kernel options, and a step the recipe lacks is simply not bound. Every bind
// group is built once here; a forward records one command encoder, submits once, and a decode step reads back only the
// sampled token id.
import type { GpuContext } from '../gpu/device.ts';
import type { BufferGroup } from '../gpu/ledger.ts';
import { ResidualAdd } from '../kernels/add.ts';
import { Attention, type AttentionBinding } from '../kernels/attention.ts';
import type { ElementwiseBinding } from '../kernels/elementwise.ts';
import { Embedding, type EmbeddingBinding } from '../kernels/embedding.ts';
import { FinalLogits, type FinalLogitsBinding } from '../kernels/final-logits.ts';
import { perDevice } from '../kernels/kernel-cache.ts';
import { RmsNorm, type RmsNormBinding } from '../kernels/rmsnorm.ts';
import { Rope, type RopeBinding } from '../kernels/rope.ts';
import { RepetitionPenalty, type RepetitionPenaltyBinding } from '../kernels/repetition-penalty.ts';
import { Sampler, type SampleBinding, type SamplingParams } from '../kernels/sample.ts';
import { writeStep } from '../kernels/step.ts';
import { SwiGlu, type GatedActivation } from '../kernels/swiglu.ts';
import { EngineError } from '../errors.ts';
import { maxContext, type Config } from './config.ts';
import type { TokenModel } from './generate.ts';
import { bindSharedInput, encodeSharedInput, type LinearBinding, type SharedInputBinding } from './linear.ts';
import { createRunState, type RunState } from './run-state.ts';
import type { GpuTensor } from '../gpu/tensor.ts';
import type { Weights } from './weights.ts';

export interface TransformerOptions {
  /** Positions the KV cache holds (default: min(the config's maximum, 2048)). */
  contextLength?: number;
  /** Rows per forward: longer prompts are prefilled in chunks of this many tokens (default 128). */
  maxTokens?: number;
  /** Reserve a [maxTokens, vocab] logits buffer so that logits() can return every position (verification). */
  allLogits?: boolean;
}

/** Chunks a prefill submits between two waits for the GPU when it can be stopped. */
const PREFILL_YIELD_CHUNKS = 4;

/** The kernel owners (pipelines), created once per device and shared by every Transformer on it. */
class ModelKernels {
  readonly embedding: Embedding;
  readonly rmsnorm: RmsNorm;
  readonly rope: Rope;
  readonly attention: Attention;
  readonly add: ResidualAdd;
  readonly finalLogits: FinalLogits;
  readonly sampler: Sampler;
  readonly penalty: RepetitionPenalty;

  static for(ctx: GpuContext): ModelKernels {
    return perDevice(ctx, 'transformer', (c) => new ModelKernels(c));
  }

  /** The gated MLP's activation kernel (SwiGLU or GeGLU), one per device and activation. */
  static glu(ctx: GpuContext, activation: GatedActivation): SwiGlu {
    return perDevice(ctx, `swiglu.${activation}`, (c) => new SwiGlu(c, activation));
  }

  private constructor(ctx: GpuContext) {
    this.embedding = new Embedding(ctx);
    this.rmsnorm = new RmsNorm(ctx);
    this.rope = new Rope(ctx);
    this.attention = new Attention(ctx);
    this.add = new ResidualAdd(ctx);
    this.finalLogits = new FinalLogits(ctx);
    this.sampler = new Sampler(ctx);
    this.penalty = new RepetitionPenalty(ctx);
  }
}

/** A residual connection: x += scale · y, or x += scale · rmsnorm(y) where the recipe norms the branch's output. */
type Residual = { add: ElementwiseBinding } | { norm: RmsNormBinding };

interface LayerBindings {
  /** x → xb; null where the projections read x itself (OLMo 2). */
  attnNorm: RmsNormBinding | null;
  /** q, k and v read the same input: the int8 input stage is recorded once for the three. */
  qkv: SharedInputBinding;
  /** qPre → q, kPre → k; null without q/k norms. */
  qNorm: RmsNormBinding | null;
  kNorm: RmsNormBinding | null;
  rope: RopeBinding;
  attention: AttentionBinding;
  wo: LinearBinding;
  attnResidual: Residual;
  /** x → xb; null where the MLP reads x itself (OLMo 2). */
  ffnNorm: RmsNormBinding | null;
  /** gate and up read the same input. */
  gateUp: SharedInputBinding;
  glu: ElementwiseBinding;
  down: LinearBinding;
  ffnResidual: Residual;
}

interface Bindings {
  embed: EmbeddingBinding;
  layers: LayerBindings[];
  finalNorm: RmsNormBinding;
  lmHeadLast: LinearBinding;
  lmHeadAll: LinearBinding | null;
  /** The logits' scale / soft cap (Granite, Gemma 2) on the last row and on every row; null where the recipe has none. */
  finalLast: FinalLogitsBinding | null;
  finalAll: FinalLogitsBinding | null;
  penalty: RepetitionPenaltyBinding;
  sample: SampleBinding;
}

type Head = 'none' | 'sample' | 'all-logits';

export class Transformer implements TokenModel {
  readonly contextLength: number;
  readonly maxTokens: number;
  private readonly kernels: ModelKernels;
  private readonly glu: SwiGlu;
  private readonly group: BufferGroup;
  private readonly s: RunState;
  private readonly b: Bindings;
  private readonly idsData: Uint32Array;
  private readonly idsOne = [0];
  /** The next forward's sampling penalises the ids in s.penalized (a repetition penalty other than 1). */
  private penalize = false;

  constructor(
    private readonly ctx: GpuContext,
    readonly config: Config,
    readonly weights: Weights,
    opts: TransformerOptions = {},
  ) {
    const c = config;
    this.contextLength = Math.min(opts.contextLength ?? Math.min(maxContext(c), 2048), maxContext(c));
    this.kernels = ModelKernels.for(ctx);
    this.glu = ModelKernels.glu(ctx, c.activation);
    this.group = ctx.ledger.group('run-state');
    try {
      this.s = createRunState(ctx, this.group, c, this.contextLength, opts.maxTokens ?? 128, opts.allLogits ?? false);
      this.maxTokens = this.s.maxTokens;
      this.idsData = new Uint32Array(this.maxTokens);
      this.b = this.bind();
    } catch (e) {
      this.group.destroy();
      throw e;
    }
  }

  private bind(): Bindings {
    const { kernels, s, group, config: c, weights: w, maxTokens: T } = this;
    const shape = { nHeads: c.nHeads, nKvHeads: c.nKvHeads, headDim: c.headDim, context: this.contextLength };
    const eps = c.rmsNormEps;
    const normOpts = { weightOffset: c.normWeightOffset };
    const residual = (label: string, y: GPUBuffer, postNorm: GpuTensor | null): Residual =>
      postNorm
        ? { norm: kernels.rmsnorm.bind(postNorm, eps, y, s.x, s.step, group, { ...normOpts, accumulate: { scale: c.residualScale } }) }
        : { add: kernels.add.bind(label, s.x, y, c.dim, s.step, group, c.residualScale) };
    const qkNorm = (weight: GpuTensor | null, pre: GPUBuffer | null, out: GPUBuffer, heads: number) =>
      weight && pre
        ? kernels.rmsnorm.bind(weight, eps, pre, out, s.step, group, { ...normOpts, rowsPerToken: c.qkNorm === 'head' ? heads : 1 })
        : null;
    const finalLogits = c.logitsScale !== 1 || c.finalSoftcap !== null;
    return {
      embed: kernels.embedding.bind(w.embed, s.ids, s.x, s.step, group, c.embeddingScale),
      layers: w.layers.map((l, i) => {
        const layer = c.layers[i];
        const rope = layer.rope === null ? null : c.ropes[layer.rope];
        const attnIn = l.attnNorm ? s.xb : s.x;
        const ffnIn = l.ffnNorm ? s.xb : s.x;
        return {
          attnNorm: l.attnNorm && kernels.rmsnorm.bind(l.attnNorm, eps, s.x, s.xb, s.step, group, normOpts),
          qkv: bindSharedInput(attnIn, [[l.wq, s.qPre ?? s.q], [l.wk, s.kPre ?? s.k], [l.wv, s.v]], s.step, T, group),
          qNorm: qkNorm(l.qNorm, s.qPre, s.q, c.nHeads),
          kNorm: qkNorm(l.kNorm, s.kPre, s.k, c.nKvHeads),
          rope: kernels.rope.bind(
            `layer${i}`,
            shape,
            { q: s.q, k: s.k, v: s.v, kCache: s.keyCache[i], vCache: s.valueCache[i], table: s.ropeTables[layer.rope ?? 0] },
            s.step,
            group,
            { rotaryDims: rope?.rotaryDims ?? 0, cacheRows: s.cacheRows[i] },
          ),
          attention: kernels.attention.bind(
            `layer${i}`,
            shape,
            { q: s.q, kCache: s.keyCache[i], vCache: s.valueCache[i], scores: s.att, out: s.attOut },
            s.step,
            group,
            { scale: c.attentionScale, softcap: c.attnSoftcap, window: layer.window, cacheRows: s.cacheRows[i] },
          ),
          wo: l.wo.bind(s.attOut, s.proj, s.step, T, group),
          attnResidual: residual(`layer${i}.attn`, s.proj, l.postAttnNorm),
          ffnNorm: l.ffnNorm && kernels.rmsnorm.bind(l.ffnNorm, eps, s.x, s.xb, s.step, group, normOpts),
          gateUp: bindSharedInput(ffnIn, [[l.gate, s.gate], [l.up, s.up]], s.step, T, group),
          glu: this.glu.bind(`layer${i}`, s.gate, s.up, c.hiddenDim, s.step, group),
          down: l.down.bind(s.gate, s.proj, s.step, T, group),
          ffnResidual: residual(`layer${i}.ffn`, s.proj, l.postFfnNorm),
        };
      }),
      finalNorm: kernels.rmsnorm.bind(w.finalNorm, eps, s.x, s.xb, s.step, group, normOpts),
      lmHeadLast: w.lmHead.bind(s.xLast, s.logits, s.lastStep, 1, group),
      lmHeadAll: s.logitsAll ? w.lmHead.bind(s.xb, s.logitsAll, s.step, T, group) : null,
      finalLast: finalLogits ? kernels.finalLogits.bind('last', s.logits, c.vocabSize, c.logitsScale, c.finalSoftcap, s.lastStep, group) : null,
      finalAll:
        finalLogits && s.logitsAll ? kernels.finalLogits.bind('all', s.logitsAll, c.vocabSize, c.logitsScale, c.finalSoftcap, s.step, group) : null,
      penalty: kernels.penalty.bind('last', s.logits, 0, c.vocabSize, s.penalized, group),
      sample: kernels.sampler.bind('last', s.logits, 0, c.vocabSize, s.sampled, group),
    };
  }

  /**
   * Records the forward pass of T tokens at positions pos .. pos+T (already in s.ids, Step uniform written) up to the
   * final norm in s.xb. The cache then holds pos + T positions, which lets decode attention skip its split for a short one.
   */
  private forward(pass: GPUComputePassEncoder, T: number, pos: number): void {
    const { kernels, b, weights: w } = this;
    // token embeddings: x = embed[ids] · embedding scale (Gemma: sqrt(hidden); Granite: embedding_multiplier)
    kernels.embedding.encode(pass, b.embed, T);
    w.layers.forEach((l, i) => {
      const lb = b.layers[i];
      // attention input: rmsnorm(x) into xb, or x itself (OLMo 2 norms outputs only)
      if (lb.attnNorm) kernels.rmsnorm.encode(pass, lb.attnNorm, T);
      // q, k, v projections (+ bias where the model has one), one int8 quantization of the input for the three
      encodeSharedInput(pass, lb.qkv, T);
      // q/k norms before RoPE (Qwen 3, Gemma 3: per head over head_dim; OLMo 2: over the whole projection)
      if (lb.qNorm) kernels.rmsnorm.encode(pass, lb.qNorm, T);
      if (lb.kNorm) kernels.rmsnorm.encode(pass, lb.kNorm, T);
      // RoPE on q and k (the layer's table and rotary dims; none on NoPE layers); k and v appended to this layer's
      // cache (a ring for a sliding-window layer)
      kernels.rope.encode(pass, lb.rope, T);
      // causal attention over the cache (GQA: kv head = head / kvGroups; the recipe's scale and soft cap, the layer's window)
      kernels.attention.encode(pass, lb.attention, T, pos + T);
      // output projection, then the residual connection: x += scale · o, or x += rmsnorm(o) (sandwich / post norms)
      l.wo.encode(pass, lb.wo, T);
      this.encodeResidual(pass, lb.attnResidual, T);
      // MLP input: rmsnorm(x) into xb, or x itself
      if (lb.ffnNorm) kernels.rmsnorm.encode(pass, lb.ffnNorm, T);
      // gated MLP: down(act(gate(h)) * up(h)), act silu (SwiGLU) or tanh GELU (GeGLU), then the residual connection
      encodeSharedInput(pass, lb.gateUp, T);
      this.glu.encode(pass, lb.glu, T);
      l.down.encode(pass, lb.down, T);
      this.encodeResidual(pass, lb.ffnResidual, T);
    });
    // final rmsnorm
    kernels.rmsnorm.encode(pass, b.finalNorm, T);
  }

  private encodeResidual(pass: GPUComputePassEncoder, r: Residual, T: number): void {
    if ('norm' in r) this.kernels.rmsnorm.encode(pass, r.norm, T);
    else this.kernels.add.encode(pass, r.add, T);
  }

  /** Runs one chunk (at most maxTokens ids at positions pos ..) with one encoder and one submit. */
  private runChunk(ids: ArrayLike<number>, pos: number, head: Head): void {
    const T = ids.length;
    const { device } = this.ctx;
    const { s, b, weights: w } = this;
    if (T < 1 || T > this.maxTokens) throw new Error(`forward: ${T} tokens (1..${this.maxTokens} per chunk)`);
    if (pos + T > this.contextLength) {
      throw new EngineError('bad-input', `positions up to ${pos + T} do not fit the context of ${this.contextLength}`, { setting: 'contextLength' });
    }
    for (let i = 0; i < T; i++) {
      const id = ids[i];
      if (!(id >= 0 && id < this.config.vocabSize)) throw new EngineError('bad-input', `token id ${id} is outside the vocabulary`);
      this.idsData[i] = id;
    }
    device.queue.writeBuffer(s.ids, 0, this.idsData, 0, T);
    writeStep(this.ctx.device.queue, s.step, T, pos);
    writeStep(this.ctx.device.queue, s.lastStep, 1, pos + T - 1);

    const enc = device.createCommandEncoder({ label: 'forward' });
    let pass = enc.beginComputePass({ label: 'forward.layers' });
    this.forward(pass, T, pos);
    if (head === 'all-logits') {
      w.lmHead.encode(pass, b.lmHeadAll!, T);
      if (b.finalAll) this.kernels.finalLogits.encode(pass, b.finalAll, T);
    }
    pass.end();
    if (head === 'sample') {
      // classifier on the last position only, then sampling on the GPU: one u32 comes back
      enc.copyBufferToBuffer(s.xb, (T - 1) * this.config.dim * 4, s.xLast, 0, this.config.dim * 4);
      pass = enc.beginComputePass({ label: 'forward.sample' });
      w.lmHead.encode(pass, b.lmHeadLast, 1);
      if (b.finalLast) this.kernels.finalLogits.encode(pass, b.finalLast, 1);
      // the repetition penalty on the logits of the ids so far, then sampling
      if (this.penalize) this.kernels.penalty.encode(pass, b.penalty);
      this.kernels.sampler.encode(pass, b.sample);
      pass.end();
      enc.copyBufferToBuffer(s.sampled, 0, s.sampledReadback, 0, 4);
    }
    device.queue.submit([enc.finish()]);
  }

  private async readSampled(): Promise<number> {
    const r = this.s.sampledReadback;
    await r.mapAsync(GPUMapMode.READ);
    const id = new Uint32Array(r.getMappedRange(), 0, 1)[0];
    r.unmap();
    return id;
  }

  /** The KV cache needs no clearing: a position is always written before it is read. */
  reset(): void {}

  /** The sampler's settings for the next sampled token, and the repetition penalty's ids when it is on. */
  private setSampling(sample: SamplingParams): void {
    this.kernels.sampler.setOptions(this.b.sample, sample);
    const rp = sample.repetitionPenalty;
    this.penalize = rp !== undefined && rp.penalty !== 1;
    if (rp && this.penalize) {
      this.kernels.penalty.setPenalty(this.b.penalty, rp.penalty);
      this.kernels.penalty.upload(this.b.penalty, rp.seen);
    }
  }

  /**
   * Runs ids at positions pos .. (chunked by maxTokens) and returns the id sampled from the last position. With
   * `signal`, every PREFILL_YIELD_CHUNKS chunks it waits for the GPU (so the thread takes messages: a stop, an unload)
   * and, once aborted, stops with EngineError('cancelled'); the chunks, and so the results, are the same.
   */
  async prefill(ids: readonly number[], pos: number, sample: SamplingParams, signal?: AbortSignal): Promise<number> {
    if (ids.length === 0) throw new EngineError('bad-input', 'prefill of an empty prompt');
    this.setSampling(sample);
    for (let at = 0, n = 0; at < ids.length; at += this.maxTokens, n++) {
      if (signal && n > 0 && n % PREFILL_YIELD_CHUNKS === 0) {
        await this.ctx.device.queue.onSubmittedWorkDone();
        if (signal.aborted) throw new EngineError('cancelled', 'the prefill was stopped');
      }
      const chunk = ids.slice(at, at + this.maxTokens);
      this.runChunk(chunk, pos + at, at + chunk.length === ids.length ? 'sample' : 'none');
    }
    return this.readSampled();
  }

  /** One decode step: token id at position pos; returns the sampled next id (the only readback). */
  async step(id: number, pos: number, sample: SamplingParams): Promise<number> {
    this.setSampling(sample);
    this.idsOne[0] = id;
    this.runChunk(this.idsOne, pos, 'sample');
    return this.readSampled();
  }

  /**
   * Verification only: the logits the last prefill or step sampled from (the last position's, after the repetition
   * penalty when it was on), as f32 [vocab].
   */
  async lastLogits(): Promise<Float32Array> {
    const V = this.config.vocabSize;
    const staging = this.ctx.ledger.createBuffer({
      label: 'lastLogits.readback',
      size: V * 4,
      usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ,
      category: 'staging',
    });
    try {
      const enc = this.ctx.device.createCommandEncoder({ label: 'lastLogits.readback' });
      enc.copyBufferToBuffer(this.s.logits, 0, staging, 0, V * 4);
      this.ctx.device.queue.submit([enc.finish()]);
      await staging.mapAsync(GPUMapMode.READ);
      return new Float32Array(staging.getMappedRange().slice(0));
    } finally {
      staging.unmap();
      this.ctx.ledger.destroy(staging);
    }
  }

  /**
   * Verification only: the logits of every position of ids (run at positions pos ..), as [ids.length, vocab] f32.
   * Fills the KV cache like prefill. Needs the allLogits option.
   */
  async logits(ids: readonly number[], pos: number): Promise<Float32Array> {
    const { s } = this;
    if (!s.logitsAll) throw new Error('logits(): construct the Transformer with allLogits: true');
    const V = this.config.vocabSize;
    const out = new Float32Array(ids.length * V);
    const staging = this.ctx.ledger.createBuffer({
      label: 'logits.readback',
      size: this.maxTokens * V * 4,
      usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ,
      category: 'staging',
    });
    try {
      for (let at = 0; at < ids.length; at += this.maxTokens) {
        const chunk = ids.slice(at, at + this.maxTokens);
        this.runChunk(chunk, pos + at, 'all-logits');
        const enc = this.ctx.device.createCommandEncoder({ label: 'logits.readback' });
        enc.copyBufferToBuffer(s.logitsAll, 0, staging, 0, chunk.length * V * 4);
        this.ctx.device.queue.submit([enc.finish()]);
        await staging.mapAsync(GPUMapMode.READ, 0, chunk.length * V * 4);
        out.set(new Float32Array(staging.getMappedRange(0, chunk.length * V * 4)), at * V);
        staging.unmap();
      }
    } finally {
      this.ctx.ledger.destroy(staging);
    }
    return out;
  }

  /** GPU bytes of the run state (activations + KV cache + uniforms + staging). */
  get runStateBytes(): number {
    return this.group.bytes;
  }

  /** Frees the run state; the weights belong to whoever loaded them. */
  destroy(): void {
    this.group.destroy();
  }
}
