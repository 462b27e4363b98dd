// The engine behind the worker API. Runs in the browser worker and in Node (tests, CLIs) unchanged: it is given a
// function returning the GPU object (navigator.gpu, or Dawn's) and the base href that same-origin model paths resolve
// against.
import { acquireGpu, gpuInfo, type GpuContext, type GpuInfo } from './gpu/device.ts';
import type {
  EngineApi,
  GenerateOptions,
  GenerateStats,
  LoadProgress,
  LoadReport,
  LoadRequest,
  ModelInfo,
  PlanReport,
  TokenEvent,
} from './api.ts';
import type { CategoryBytes, LedgerSample } from './gpu/ledger.ts';
import { EngineError } from './errors.ts';

export interface EngineHost {
  gpu: () => GPU | undefined | null;
  baseHref: string;
}

export class Engine implements EngineApi {
  private ctx: GpuContext | null = null;
  private lostReason: Promise<string> | null = null;

  constructor(private readonly host: EngineHost) {}

  async init(): Promise<GpuInfo> {
    if (this.ctx) {
      this.ctx.ledger.destroyAll();
      this.ctx.device.destroy();
      this.ctx = null;
    }
    const ctx = await acquireGpu(this.host.gpu());
    this.ctx = ctx;
    this.lostReason = ctx.lost.then((info) => {
      if (this.ctx === ctx) this.ctx = null;
      return `${info.reason}: ${info.message}`;
    });
    return gpuInfo(ctx);
  }

  private gpu(): GpuContext {
    if (!this.ctx) throw new EngineError('device-lost', 'No GPU device: call init() first (or again after a device loss).');
    return this.ctx;
  }

  async plan(_req: LoadRequest): Promise<PlanReport> {
    throw new EngineError('unsupported', 'planning is not wired into the engine yet');
  }

  async load(_req: LoadRequest, _onProgress: (p: LoadProgress) => void): Promise<LoadReport> {
    throw new EngineError('unsupported', 'loading is not wired into the engine yet');
  }

  cancelLoad(): void {}

  async unload(): Promise<void> {}

  async modelInfo(): Promise<ModelInfo | null> {
    return null;
  }

  async generate(_prompt: string, _opts: GenerateOptions, _onToken: (e: TokenEvent) => void): Promise<GenerateStats> {
    throw new EngineError('unsupported', 'generation is not wired into the engine yet');
  }

  stopGeneration(): void {}

  async memory(sinceT: number): Promise<{ samples: LedgerSample[]; current: number; peak: number; bytes: CategoryBytes }> {
    const { ledger } = this.gpu();
    return { samples: ledger.samples(sinceT), current: ledger.current, peak: ledger.peak, bytes: ledger.byCategory() };
  }

  deviceLost(): Promise<string> {
    if (!this.lostReason) throw new EngineError('device-lost', 'No GPU device: call init() first.');
    return this.lostReason;
  }
}
