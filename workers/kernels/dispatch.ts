// Workgroup counts that respect maxComputeWorkgroupsPerDimension: a 1-D count larger than the limit is folded into
// (x, y) and the shader recovers the flat index as wg.x + wg.y * num_workgroups.x (masking the overhang).
export function dispatch1d(count: number, maxPerDim: number): [number, number] {
  if (count <= maxPerDim) return [Math.max(1, count), 1];
  const y = Math.ceil(count / maxPerDim);
  if (y > maxPerDim) throw new Error(`dispatch of ${count} workgroups exceeds the device's ${maxPerDim}² limit`);
  return [Math.ceil(count / y), y];
}

/** Writes a small uniform struct of u32/f32 fields (given as numbers with their kinds) into a new ArrayBuffer. */
export function uniformData(fields: readonly (readonly ['u32' | 'f32' | 'i32', number])[]): ArrayBuffer {
  const buf = new ArrayBuffer(Math.max(16, Math.ceil((fields.length * 4) / 16) * 16));
  const view = new DataView(buf);
  fields.forEach(([kind, v], i) => {
    if (kind === 'u32') view.setUint32(i * 4, v, true);
    else if (kind === 'i32') view.setInt32(i * 4, v, true);
    else view.setFloat32(i * 4, v, true);
  });
  return buf;
}
