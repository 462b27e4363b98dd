// The decoder-only transformer on WebGPU, in the shape of llama2.c's run.c: a Config (the blueprint, with the per-model
// recipe), the Weights (read-only), a RunState (activations and KV cache, allocated once), and forward() going top to
// bottom, one short comment per step, allocating nothing. One forward serves every family: what differs (norm kind and
// placement, q/k norms, activation, attention scale and soft cap, each layer's window and RoPE, the multipliers) is
// read from the recipe at bind time as kernel options, and a step the recipe lacks is simply not bound. Every bind
// group is built once here; a forward records one command encoder with one compute pass and submits once.
// A decode step of a Llama-like recipe is the embedding, 5 dispatches per layer (6 where attention splits), lm_head
// and sampling: the norms, RoPE, the KV append, the GLU and the residual adds run inside the products (linear.ts). What
// needs a whole row of a product first — q/k norms, post norms — is a dispatch of its own for the recipes that have it.
// A decode step fed on the GPU (queueStep) reads the id its previous forward sampled, so the next step can be submitted
// before the CPU has seen that id; the id comes back through its own small readback buffer.
import type { GpuContext } from '../gpu/device.ts';
import type { BufferGroup } from '../gpu/ledger.ts';
import { PassRecorder, type ComputePass, type RecordCounts } from '../gpu/pass-recorder.ts';
import { Attention, type AttentionBinding } from '../kernels/attention.ts';
import { Embedding, type EmbeddingBinding } from '../kernels/embedding.ts';
import { FinalLogits, type FinalLogitsBinding } from '../kernels/final-logits.ts';
import { perDevice } from '../kernels/kernel-cache.ts';
import type { MatVecNorm } from '../kernels/matvec-io.ts';
import { RmsNorm, type RmsNormBinding } from '../kernels/rmsnorm.ts';
import { fusedQkvSource, Rope, type RopeBinding } from '../kernels/rope.ts';
import { RepetitionPenalty, type RepetitionPenaltyBinding } from '../kernels/repetition-penalty.ts';
import { Sampler, type SampleBinding, type SamplingParams } from '../kernels/sample.ts';
import { writeStep } from '../kernels/step.ts';
import { EngineError } from '../errors.ts';
import { maxContext, type Config } from './config.ts';
import type { TokenModel } from './generate.ts';
import { gluBlock, type LinearBinding } from './linear.ts';
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

/** The kernel owners the transformer records itself (the products belong to the linear layers), once per device. */
class ModelKernels {
  readonly embedding: Embedding;
  readonly rmsnorm: RmsNorm;
  readonly rope: Rope;
  readonly attention: Attention;
  readonly finalLogits: FinalLogits;
  readonly sampler: Sampler;
  readonly penalty: RepetitionPenalty;

  static for(ctx: GpuContext): ModelKernels {
    return perDevice(ctx, 'transformer', (c) => new ModelKernels(c));
  }

  private constructor(ctx: GpuContext) {
    this.embedding = new Embedding(ctx);
    this.rmsnorm = new RmsNorm(ctx);
    this.rope = new Rope(ctx);
    this.attention = new Attention(ctx);
    this.finalLogits = new FinalLogits(ctx);
    this.sampler = new Sampler(ctx);
    this.penalty = new RepetitionPenalty(ctx);
  }
}

interface LayerBindings {
  qkv: LinearBinding;
  /** Where the recipe norms q and k (Qwen 3, Gemma 3, OLMo 2): the norms, then RoPE + KV append from their outputs. */
  qkNorm: { q: RmsNormBinding; k: RmsNormBinding; rope: RopeBinding } | null;
  attention: AttentionBinding;
  o: LinearBinding;
  /** x += scale · rmsnorm(o) where the recipe norms the attention output (sandwich / post norms); else in o's epilogue. */
  attnPost: RmsNormBinding | null;
  gateUp: LinearBinding;
  down: LinearBinding;
  ffnPost: RmsNormBinding | null;
}

interface Bindings {
  /** Embedding of the ids the CPU wrote. */
  embed: EmbeddingBinding;
  /** Embedding of the id the previous forward sampled (a GPU-fed decode step). */
  embedSampled: EmbeddingBinding;
  layers: LayerBindings[];
  /** lm_head through the final norm on the last position (Step: lastStep). */
  lmHeadLast: LinearBinding;
  /** lm_head through the final norm on every position (verification). */
  lmHeadAll: LinearBinding | null;
  /** The logits' scale / soft cap (Granite, Gemma 2) on the last row and on every row; null where the recipe has none. */
  finalLast: FinalLogitsBinding | null;
  finalAll: FinalLogitsBinding | null;
  penalty: RepetitionPenaltyBinding;
  sample: SampleBinding;
}

type Head = 'none' | 'sample' | 'all-logits';

/** What the last forward cost on the CPU side (bench decode reads it). */
export interface ForwardStats extends RecordCounts {
  /** Milliseconds to record the forward's commands and submit them. */
  recordMs: number;
  /** Milliseconds from asking for its sampled id until it was back (0 when nothing was read back). */
  waitMs: number;
}

export class Transformer implements TokenModel {
  readonly contextLength: number;
  readonly maxTokens: number;
  private readonly kernels: ModelKernels;
  private readonly group: BufferGroup;
  private readonly s: RunState;
  private readonly b: Bindings;
  private readonly idsData: Uint32Array;
  private readonly idsOne = [0];
  /** Readback buffers for sampled ids not in use (one per step in flight). */
  private readonly readbacks: GPUBuffer[] = [];
  /** s.sampled holds the id the last forward sampled (what a GPU-fed step reads). */
  private sampledValid = false;
  /** The next forward's sampling penalises the ids in s.penalized (a repetition penalty other than 1). */
  private penalize = false;
  /** Counts each forward's dispatches and passes; bench decode --profile turns its kernel timing on. */
  readonly recorder: PassRecorder;
  /** The last forward's counts and CPU times. */
  readonly lastForward: ForwardStats = { dispatches: 0, passes: 0, recordMs: 0, waitMs: 0 };

  constructor(
    private readonly ctx: GpuContext,
    readonly config: Config,
    readonly weights: Weights,
    opts: TransformerOptions = {},
  ) {
    const c = config;
    this.contextLength = Math.min(opts.contextLength ?? Math.min(maxContext(c), 2048), maxContext(c));
    this.kernels = ModelKernels.for(ctx);
    this.recorder = new PassRecorder(ctx);
    this.group = ctx.ledger.group('run-state');
    try {
      this.s = createRunState(ctx, this.group, c, this.contextLength, opts.maxTokens ?? 128, opts.allLogits ?? false);
      this.maxTokens = this.s.maxTokens;
      this.idsData = new Uint32Array(this.maxTokens);
      this.b = this.bind();
      // a step and the one generate() queues ahead; a caller queueing further gets more, made when needed
      this.readbacks.push(this.newReadback(), this.newReadback());
    } catch (e) {
      this.group.destroy();
      throw e;
    }
  }

  private bind(): Bindings {
    const { kernels, s, group, config: c, weights: w, maxTokens: T } = this;
    const shape = { nHeads: c.nHeads, nKvHeads: c.nKvHeads, headDim: c.headDim, context: this.contextLength };
    const eps = c.rmsNormEps;
    const norm = (weight: GpuTensor | null): MatVecNorm | null => weight && { weight, eps, offset: c.normWeightOffset };
    const qkvRows = c.qDim + 2 * c.kvDim;
    /** The residual add of a product: in its epilogue, or after it through the recipe's post norm. */
    const residual = (x: GPUBuffer, post: GpuTensor | null) => ({
      io: post
        ? { x, norm: null, epilogue: { kind: 'store' as const, y: s.proj }, step: s.step }
        : { x, norm: null, epilogue: { kind: 'residual' as const, x: s.x, scale: c.residualScale }, step: s.step, y: s.proj },
      post: post && kernels.rmsnorm.bind(post, eps, s.proj, s.x, s.step, group, { weightOffset: c.normWeightOffset, accumulate: { scale: c.residualScale } }),
    });
    const finalLogits = c.logitsScale !== 1 || c.finalSoftcap !== null;
    return {
      embed: kernels.embedding.bind(w.embed, s.ids, s.x, s.step, group, c.embeddingScale),
      embedSampled: kernels.embedding.bind(w.embed, s.sampled, s.x, s.step, group, c.embeddingScale),
      layers: w.layers.map((l, i) => {
        const layer = c.layers[i];
        const rope = layer.rope === null ? null : c.ropes[layer.rope];
        const kv = s.kv[i];
        const heads = { nHeads: c.nHeads, nKvHeads: c.nKvHeads, headDim: c.headDim, ropeHalf: (rope?.rotaryDims ?? 0) / 2, cacheRows: s.cacheRows[i] };
        const table = s.ropeTables[layer.rope ?? 0];
        const normed = l.qNorm && l.kNorm && s.qNormed;
        const qkNormOpts = (stride: number, offset: number, heads: number) => ({
          weightOffset: c.normWeightOffset,
          rowsPerToken: c.qkNorm === 'head' ? heads : 1,
          xColumns: { stride, offset },
        });
        const attnOut = residual(s.attOut, l.postAttnNorm);
        const ffnOut = residual(s.h, l.postFfnNorm);
        const kBytes = s.cacheRows[i] * c.kvDim * 4;
        return {
          qkv: l.qkv.bind(
            normed
              ? { x: s.x, norm: norm(l.attnNorm), epilogue: { kind: 'store', y: s.qkv }, step: s.step, xn: s.xb }
              : { x: s.x, norm: norm(l.attnNorm), epilogue: { kind: 'rope_kv', q: s.q, kv, table, ...heads }, step: s.step, xn: s.xb, y: s.qkv },
            T,
            group,
          ),
          qkNorm: normed
            ? {
                q: kernels.rmsnorm.bind(l.qNorm!, eps, s.qkv, normed.q, s.step, group, qkNormOpts(qkvRows, 0, c.nHeads)),
                k: kernels.rmsnorm.bind(l.kNorm!, eps, s.qkv, normed.k, s.step, group, qkNormOpts(qkvRows, c.qDim, c.nKvHeads)),
                rope: kernels.rope.bind(
                  `layer${i}`,
                  heads,
                  {
                    src: { q: { buffer: normed.q, stride: c.qDim, col: 0 }, k: { buffer: normed.k, stride: c.kvDim, col: 0 }, v: fusedQkvSource(s.qkv, heads).v },
                    q: s.q,
                    kv,
                    table,
                  },
                  s.step,
                  group,
                ),
              }
            : null,
          attention: kernels.attention.bind(
            `layer${i}`,
            shape,
            {
              q: s.q,
              kCache: { buffer: kv.buffer, offset: 0, size: kBytes },
              vCache: { buffer: kv.buffer, offset: kv.vOffset, size: kBytes },
              scores: s.att,
              out: s.attOut,
            },
            s.step,
            group,
            { scale: c.attentionScale, softcap: c.attnSoftcap, window: layer.window, cacheRows: s.cacheRows[i] },
          ),
          o: l.o.bind(attnOut.io, T, group),
          attnPost: attnOut.post,
          gateUp: l.gateUp.bind(
            { x: s.x, norm: norm(l.ffnNorm), epilogue: { kind: 'glu', out: s.h, block: gluBlock(c.hiddenDim), activation: c.activation }, step: s.step, xn: s.xb, y: s.gateUp },
            T,
            group,
          ),
          down: l.down.bind(ffnOut.io, T, group),
          ffnPost: ffnOut.post,
        };
      }),
      lmHeadLast: w.lmHead.bind({ x: s.x, norm: norm(w.finalNorm), epilogue: { kind: 'store', y: s.logits }, step: s.lastStep }, 1, group),
      lmHeadAll: s.logitsAll
        ? w.lmHead.bind({ x: s.x, norm: norm(w.finalNorm), epilogue: { kind: 'store', y: s.logitsAll }, step: s.step, xn: s.xb }, T, group)
        : null,
      finalLast: finalLogits ? kernels.finalLogits.bind('last', s.logits, c.vocabSize, c.logitsScale, c.finalSoftcap, s.lastStep, group) : null,
      finalAll:
        finalLogits && s.logitsAll ? kernels.finalLogits.bind('all', s.logitsAll, c.vocabSize, c.logitsScale, c.finalSoftcap, s.step, group) : null,
      penalty: kernels.penalty.bind('last', s.logits, 0, c.vocabSize, s.penalized, group),
      sample: kernels.sampler.bind('last', s.logits, 0, c.vocabSize, s.sampled, group),
    };
  }

  /**
   * Records the forward pass of T tokens at positions pos .. pos+T (Step uniform written) through the last layer, x
   * in s.x. The cache then holds pos + T positions, which lets decode attention skip its split for a short one.
   */
  private forward(pass: ComputePass, T: number, pos: number, fedSampled: boolean): void {
    const { kernels, b, weights: w } = this;
    // token embeddings: x = embed[ids] · embedding scale (a GPU-fed decode step: the id its previous forward sampled)
    kernels.embedding.encode(pass, fedSampled ? b.embedSampled : b.embed, T);
    w.layers.forEach((l, i) => {
      const lb = b.layers[i];
      // q, k, v = [Wq; Wk; Wv] rmsnorm(x) (+ bias; x itself where the recipe has no pre-norm); RoPE on q and k with
      // the layer's table and rotary dims; k, v into the layer's cache (a ring for a sliding window) at pos .. pos+T
      l.qkv.encode(pass, lb.qkv, T);
      // where the recipe norms q and k before RoPE (per head or over the projection): the norms, then RoPE + KV append
      if (lb.qkNorm) {
        kernels.rmsnorm.encode(pass, lb.qkNorm.q, T);
        kernels.rmsnorm.encode(pass, lb.qkNorm.k, T);
        kernels.rope.encode(pass, lb.qkNorm.rope, T);
      }
      // causal attention over the cache (GQA: kv head = head / kvGroups; the recipe's scale and soft cap, the layer's window)
      kernels.attention.encode(pass, lb.attention, T, pos + T);
      // x += scale · o_proj(attention), or x += scale · rmsnorm(o_proj(attention)) (sandwich / post norms)
      l.o.encode(pass, lb.o, T);
      if (lb.attnPost) kernels.rmsnorm.encode(pass, lb.attnPost, T);
      // h = act(gate(rmsnorm(x))) · up(rmsnorm(x)), act silu (SwiGLU) or tanh GELU (GeGLU)
      l.gateUp.encode(pass, lb.gateUp, T);
      // x += scale · down_proj(h), or through the post norm
      l.down.encode(pass, lb.down, T);
      if (lb.ffnPost) kernels.rmsnorm.encode(pass, lb.ffnPost, T);
    });
  }

  /**
   * Runs one chunk (at most maxTokens ids at positions pos .., or with ids null one token fed by the id the previous
   * forward sampled) with one encoder, one pass and one submit; a sampled id is copied into `readback`.
   */
  private runChunk(ids: ArrayLike<number> | null, pos: number, head: Head, readback: GPUBuffer | null): void {
    const T = ids ? ids.length : 1;
    const { device } = this.ctx;
    const { s, b, weights: w } = this;
    if (T < 1 || T > this.maxTokens) throw new Error(`forward: ${T} tokens (1..${this.maxTokens} per chunk)`);
    if (pos + T > this.contextLength) {
      throw new EngineError('bad-input', `positions up to ${pos + T} do not fit the context of ${this.contextLength}`, { setting: 'contextLength' });
    }
    if (!ids && !this.sampledValid) throw new Error('forward: a GPU-fed step needs a forward that sampled before it');
    const t0 = performance.now();
    if (ids) {
      for (let i = 0; i < T; i++) {
        const id = ids[i];
        if (!(id >= 0 && id < this.config.vocabSize)) throw new EngineError('bad-input', `token id ${id} is outside the vocabulary`);
        this.idsData[i] = id;
      }
      device.queue.writeBuffer(s.ids, 0, this.idsData, 0, T);
    }
    writeStep(device.queue, s.step, T, pos);
    writeStep(device.queue, s.lastStep, 1, pos + T - 1, T - 1);

    const enc = device.createCommandEncoder({ label: 'forward' });
    this.recorder.resetCounts();
    const pass = this.recorder.begin(enc, 'forward');
    this.forward(pass, T, pos, ids === null);
    // every position's logits through the final norm (verification), scaled / soft-capped where the recipe says
    if (head === 'all-logits') {
      w.lmHead.encode(pass, b.lmHeadAll!, T);
      if (b.finalAll) this.kernels.finalLogits.encode(pass, b.finalAll, T);
    }
    if (head === 'sample') {
      // the classifier on the last position through the final norm, then sampling on the GPU: one u32 comes back
      w.lmHead.encode(pass, b.lmHeadLast, 1);
      if (b.finalLast) this.kernels.finalLogits.encode(pass, b.finalLast, 1);
      // the repetition penalty on the logits of the ids so far, then sampling
      if (this.penalize) this.kernels.penalty.encode(pass, b.penalty);
      this.kernels.sampler.encode(pass, b.sample);
    }
    pass.end();
    if (readback) enc.copyBufferToBuffer(s.sampled, 0, readback, 0, 4);
    this.recorder.finish(enc);
    device.queue.submit([enc.finish()]);
    this.sampledValid = head === 'sample';
    Object.assign(this.lastForward, this.recorder.counts, { recordMs: performance.now() - t0, waitMs: 0 });
  }

  private newReadback(): GPUBuffer {
    return this.group.createBuffer({ label: 'run.sampledReadback', size: 4, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ, category: 'staging' });
  }

  private takeReadback(): GPUBuffer {
    return this.readbacks.pop() ?? this.newReadback();
  }

  /** The id in `r` once the GPU has written it; `r` goes back to the pool. */
  private async readId(r: GPUBuffer, collect: boolean): Promise<number> {
    const t0 = performance.now();
    await r.mapAsync(GPUMapMode.READ);
    const id = new Uint32Array(r.getMappedRange(), 0, 1)[0];
    r.unmap();
    this.readbacks.push(r);
    this.lastForward.waitMs = performance.now() - t0;
    if (collect) await this.recorder.collect();
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
    const r = this.takeReadback();
    for (let at = 0, n = 0; at < ids.length; at += this.maxTokens, n++) {
      if (signal && n > 0 && n % PREFILL_YIELD_CHUNKS === 0) {
        await this.ctx.device.queue.onSubmittedWorkDone();
        if (signal.aborted) {
          this.readbacks.push(r);
          throw new EngineError('cancelled', 'the prefill was stopped');
        }
      }
      const chunk = ids.slice(at, at + this.maxTokens);
      const last = at + chunk.length === ids.length;
      this.runChunk(chunk, pos + at, last ? 'sample' : 'none', last ? r : null);
    }
    return this.readId(r, true);
  }

  /** One decode step: token id at position pos; returns the sampled next id (the only readback). */
  async step(id: number, pos: number, sample: SamplingParams): Promise<number> {
    this.setSampling(sample);
    this.idsOne[0] = id;
    const r = this.takeReadback();
    this.runChunk(this.idsOne, pos, 'sample', r);
    return this.readId(r, true);
  }

  /**
   * One decode step at position pos fed on the GPU by the id the previous forward sampled, submitted at once; the
   * promise gives this step's sampled id. The caller may queue the next step before awaiting it (generate.ts does):
   * the GPU then never waits for the CPU to read an id. Not while profiling (its timestamps are read per step).
   */
  queueStep(pos: number, sample: SamplingParams): Promise<number> {
    if (this.recorder.profiling) throw new Error('queueStep: profile with step(), one forward at a time');
    // the penalty's ids so far would lack the one this step is fed, which only the GPU knows yet
    if (sample.repetitionPenalty && sample.repetitionPenalty.penalty !== 1) throw new Error('queueStep: not with a repetition penalty');
    this.setSampling(sample);
    const r = this.takeReadback();
    this.runChunk(null, pos, 'sample', r);
    return this.readId(r, false);
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
        this.runChunk(chunk, pos + at, 'all-logits', null);
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
