// The seeded random draws of generation: one uniform per sampled token, handed to the sampler as SamplingParams.u.
/**
 * Mulberry32 (Tommy Ettinger), exactly as in u32 arithmetic (all operations mod 2^32, >>> logical shifts):
 *   state = seed mod 2^32
 *   next():  state = state + 0x6D2B79F5
 *            t = imul(state ^ (state >>> 15), state | 1)
 *            t = (t + imul(t ^ (t >>> 7), t | 61)) ^ t
 *            return t ^ (t >>> 14)
 *   nextUniform() = (next() >>> 8) / 2^24   (24 bits, so it is exact in f32 and < 1)
 * Generation seeds one Mulberry32 with GenerateOptions.seed and calls nextUniform() once per sampled token, greedy
 * tokens included, so the n-th token always sees the n-th draw.
 */
export class Mulberry32 {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    const a = this.state;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t = (t + Math.imul(t ^ (t >>> 7), t | 61)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  }

  nextUniform(): number {
    return (this.next() >>> 8) / 16777216;
  }
}
