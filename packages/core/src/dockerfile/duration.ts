// Go's time.ParseDuration ("1m30s", "1.5h", "300ms"), used by HEALTHCHECK flags. The image
// config stores durations as nanoseconds.

const UNIT_NS: Record<string, number> = {
  ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9,
};

const PART = /^(\d+\.?\d*|\.\d+)([^\d.]*)/;

/** Nanoseconds of a Go duration string. Throws with Go's message on a bad one. */
export function parseDuration(text: string): number {
  let rest = text;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    sign = rest.startsWith('-') ? -1 : 1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') throw new Error(`time: invalid duration "${text}"`);
  let total = 0;
  while (rest !== '') {
    const match = PART.exec(rest);
    if (!match) throw new Error(`time: invalid duration "${text}"`);
    const unit = match[2]!;
    if (unit === '') throw new Error(`time: missing unit in duration "${text}"`);
    const scale = UNIT_NS[unit];
    if (scale === undefined) throw new Error(`time: unknown unit "${unit}" in duration "${text}"`);
    total += Number(match[1]) * scale;
    rest = rest.slice(match[0].length);
  }
  return sign * Math.round(total);
}
