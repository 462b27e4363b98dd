// Number formatters for the UI: bytes, durations, rates, counts. Digits come from Intl.NumberFormat (its rounding,
// its grouping); a unit is chosen by the value as it will be shown, so a rounded 1024 KiB reads "1.0 MiB" and a
// rounded 60 s reads "1 min 00 s". Pure, so they are unit-tested in Node at their boundaries.

const LOCALE = 'en-US'; // the page's language (index.html lang="en")

/** Binary units, as the GPU limits and the ledger count them (Intl's byte units are decimal: kB, MB). */
const BYTE_UNITS = [
  { unit: 'B', digits: 0 },
  { unit: 'KiB', digits: 1 },
  { unit: 'MiB', digits: 1 },
  { unit: 'GiB', digits: 2 },
  { unit: 'TiB', digits: 2 },
] as const;

const fixed = (digits: number, minimumIntegerDigits = 1, useGrouping = true) =>
  new Intl.NumberFormat(LOCALE, { minimumFractionDigits: digits, maximumFractionDigits: digits, minimumIntegerDigits, useGrouping });

const BYTE_FORMATS = BYTE_UNITS.map((u) => fixed(u.digits, 1, false));

/** The value `fmt` shows for `v` (its own rounding), as a number. */
function shown(fmt: Intl.NumberFormat, v: number): number {
  return Number(fmt.format(v));
}

/** 1536 → "1.5 KiB"; 1023 → "1023 B"; 1048575 → "1.0 MiB" (never "1024.0 KiB"). */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return '—';
  let v = Math.abs(n);
  let i = 0;
  while (i < BYTE_UNITS.length - 1 && shown(BYTE_FORMATS[i], v) >= 1024) {
    v /= 1024;
    i++;
  }
  return `${BYTE_FORMATS[i].format(Math.sign(n) * v)} ${BYTE_UNITS[i].unit}`;
}

export function toMiB(n: number): number {
  return n / 2 ** 20;
}

const MS = fixed(0);
const SECONDS = fixed(2);
const WHOLE = fixed(0);
const TWO_DIGITS = fixed(0, 2);

/** Whole seconds as "1 min 05 s", or "1 h 02 min" from an hour. */
function minutes(totalSeconds: number): string {
  const s = Math.round(totalSeconds);
  if (s >= 3600) {
    const m = Math.round(s / 60);
    return `${WHOLE.format(Math.floor(m / 60))} h ${TWO_DIGITS.format(m % 60)} min`;
  }
  const m = Math.floor(s / 60);
  return `${WHOLE.format(m)} min ${TWO_DIGITS.format(s - m * 60)} s`;
}

/** Milliseconds as "850 ms", "2.35 s" or "1 min 05 s". */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '—';
  if (shown(MS, ms) < 1000) return `${MS.format(ms)} ms`;
  const s = ms / 1000;
  if (shown(SECONDS, s) < 60) return `${SECONDS.format(s)} s`;
  return minutes(s);
}

/** ETA in seconds ("< 1 s", "12 s", "2 min 05 s"); "—" when unknown (NaN, infinite, negative). */
export function formatEta(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '—';
  if (s < 1) return '< 1 s';
  if (shown(WHOLE, s) < 60) return `${WHOLE.format(s)} s`;
  return minutes(s);
}

const RATE_FORMATS = new Map<number, Intl.NumberFormat>();

/** 12.345 → "12.3 MB/s" (grouped: "1,234.5 MB/s"). */
export function formatRate(value: number, unit: string, digits = 1): string {
  if (!Number.isFinite(value)) return '—';
  let fmt = RATE_FORMATS.get(digits);
  if (!fmt) RATE_FORMATS.set(digits, (fmt = fixed(digits)));
  return `${fmt.format(value)} ${unit}`;
}

const COUNT = new Intl.NumberFormat(LOCALE, { notation: 'compact', maximumSignificantDigits: 3 });

/** 134_515_008 → "135M"; 1_100_048_384 → "1.1B"; 999_960 → "1M" (compact notation, 3 significant digits). */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return '—';
  return COUNT.format(n);
}

/** Fraction 0..1 of done/total, 0 when the total is unknown. */
export function fraction(done: number, total: number): number {
  if (!(total > 0)) return 0;
  return Math.min(1, Math.max(0, done / total));
}
