// Sizes and ages as the docker CLI prints them (its go-units package): `1.23MB` in decimal units
// with three significant digits, `5 minutes ago`.

const DECIMAL_UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];

/** Go's `%.Ng`: N significant digits, trailing zeros dropped. */
function significant(value: number, digits: number): string {
  return String(Number(value.toPrecision(digits)));
}

/** go-units HumanSizeWithPrecision: `docker images` and `docker history` use 3 digits, `system df` 4. */
export function humanSize(bytes: number, digits = 3): string {
  let size = bytes;
  let unit = 0;
  while (size >= 1000 && unit < DECIMAL_UNITS.length - 1) {
    size /= 1000;
    unit++;
  }
  return `${significant(size, digits)}${DECIMAL_UNITS[unit]}`;
}

/** go-units HumanDuration, as `CREATED` shows it (with " ago" appended by the caller). */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.floor(ms / 60_000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.floor(ms / 3_600_000 + 0.5);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(ms / 3_600_000 / 24 / 365)} years`;
}

/** `56 years ago`, from a time in ms. */
export function since(timeMs: number, now = Date.now()): string {
  return `${humanDuration(now - timeMs)} ago`;
}

/** Go's time.Time String() in UTC, as docker's CreatedAt: `2020-01-01 00:00:00 +0000 UTC`. */
export function goTimeString(timeMs: number): string {
  return `${new Date(timeMs).toISOString().replace('T', ' ').replace(/\.\d+Z$/, '')} +0000 UTC`;
}

/** A Go duration (`24h`, `1h30m`, `90s`, `500ms`) in ms, as `--filter until=` takes one; undefined if it is not one. */
export function parseGoDuration(text: string): number | undefined {
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let at = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * units[m[2]!]!;
    at = re.lastIndex;
  }
  return at === text.length && at > 0 ? total : undefined;
}
