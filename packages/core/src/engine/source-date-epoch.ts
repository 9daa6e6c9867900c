import { KilnError } from '../errors.js';

/**
 * SOURCE_DATE_EPOCH (https://reproducible-builds.org/specs/source-date-epoch/): the seconds every
 * mtime is clamped to and `created` is set to; undefined when unset (the build then uses 0).
 */
export function sourceDateEpoch(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const value = env['SOURCE_DATE_EPOCH'];
  if (value === undefined || value === '') return undefined;
  if (!/^\d+$/.test(value)) throw new KilnError(`SOURCE_DATE_EPOCH must be whole seconds since 1970, not "${value}"`);
  return Number(value);
}
