// Owner of shaders/step.wgsl, the Step uniform's one WGSL declaration: a kernel that reads Step gets the file put in
// front of its own source (withStep), and the buffers that hold a Step are STEP_UNIFORM_BYTES long.
import stepSource from '../../shaders/step.wgsl?raw';

/** struct Step { tokens: u32, pos: u32, kv_len: u32, _pad: u32 }: four u32. */
export const STEP_UNIFORM_BYTES = 16;

/** A kernel's WGSL source with the Step declaration in front. */
export function withStep(source: string): string {
  return `${stepSource}\n${source}`;
}

const words = new Uint32Array(STEP_UNIFORM_BYTES / 4);

/** Writes Step {tokens, pos, kv_len: pos + tokens} into `buffer` (queue.writeBuffer copies it at once). */
export function writeStep(queue: GPUQueue, buffer: GPUBuffer, tokens: number, pos: number): void {
  words[0] = tokens;
  words[1] = pos;
  words[2] = pos + tokens;
  words[3] = 0;
  queue.writeBuffer(buffer, 0, words);
}
