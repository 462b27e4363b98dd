// Number formatters for the UI: bytes, durations, rates. Pure, so they are unit-tested in Node.

const MiB = 2 ** 20;
const GiB = 2 ** 30;

/** 1536 → "1.5 KiB"; binary units, as the GPU limits and the ledger count them. */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return '—';
  const abs = Math.abs(n);
  if (abs >= GiB) return `${(n / GiB).toFixed(2)} GiB`;
  if (abs >= MiB) return `${(n / MiB).toFixed(1)} MiB`;
  if (abs >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${Math.round(n)} B`;
}

export function toMiB(n: number): number {
  return n / MiB;
}

/** Milliseconds as "850 ms" or "2.35 s" or "1 min 05 s". */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(2)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${String(Math.round(s - m * 60)).padStart(2, '0')} s`;
}

/** ETA seconds; NaN or infinite when unknown. */
export function formatEta(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '—';
  if (s < 1) return '< 1 s';
  if (s < 60) return `${Math.round(s)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${String(Math.round(s - m * 60)).padStart(2, '0')} s`;
}

export function formatRate(value: number, unit: string, digits = 1): string {
  if (!Number.isFinite(value)) return '—';
  return `${value.toFixed(digits)} ${unit}`;
}

/** 124_000_000 → "124M"; 1_100_000_000 → "1.10B". */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return '—';
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}K`;
  return String(Math.round(n));
}

/** Fraction 0..1 of done/total, 0 when the total is unknown. */
export function fraction(done: number, total: number): number {
  if (!(total > 0)) return 0;
  return Math.min(1, Math.max(0, done / total));
}
