/**
 * The `flavor` input: defaults applied to every tag rule. Lines such as `latest=auto`,
 * `prefix=dev-,onlatest=true`, `suffix=-alpine`; a later line overrides an earlier one.
 */
import { alternatives, MetadataInputError, nonBlankLines, parseAttributes } from './attribute-list.js';

export const LATEST_MODES = ['auto', 'true', 'false'] as const;
/** `auto`: a `latest` tag for a release-like version (a non-prerelease semver, a pushed tag, ...). */
export type LatestMode = (typeof LATEST_MODES)[number];

export interface TagFlavor {
  latest: LatestMode;
  /** Put before every tag whose rule has no prefix of its own. */
  prefix: string;
  /** Whether the `latest` tag gets the prefix too (`prefix=...,onlatest=true`). */
  prefixLatest: boolean;
  suffix: string;
  suffixLatest: boolean;
}

const FLAVOR_KEYS = ['latest', 'prefix', 'suffix', 'onlatest'];

export function parseFlavor(lines: readonly string[]): TagFlavor {
  const flavor: TagFlavor = { latest: 'auto', prefix: '', prefixLatest: false, suffix: '', suffixLatest: false };

  for (const line of nonBlankLines(lines)) {
    const fail = (reason: string) => new MetadataInputError('flavor', line, reason);
    // `onlatest` belongs to the prefix or suffix written before it on the same line.
    let onLatestTarget: 'prefix' | 'suffix' | undefined;
    for (const { key, value } of parseAttributes('flavor', line)) {
      switch (key) {
        case 'latest':
          if (!isLatestMode(value)) throw fail(`latest must be ${alternatives(LATEST_MODES)}, not "${value}"`);
          flavor.latest = value;
          break;
        case 'prefix':
        case 'suffix':
          flavor[key] = value;
          onLatestTarget = key;
          break;
        case 'onlatest': {
          if (value !== 'true' && value !== 'false') throw fail(`onlatest must be true or false, not "${value}"`);
          if (!onLatestTarget) throw fail('onlatest must follow prefix=... or suffix=... on the same line');
          flavor[onLatestTarget === 'prefix' ? 'prefixLatest' : 'suffixLatest'] = value === 'true';
          break;
        }
        case undefined:
          throw fail(`"${value}" is not key=value (use ${alternatives(FLAVOR_KEYS.map((k) => `${k}=...`))})`);
        default:
          throw fail(`unknown flavor "${key}" (use ${alternatives(FLAVOR_KEYS)})`);
      }
    }
  }
  return flavor;
}

function isLatestMode(value: string): value is LatestMode {
  return (LATEST_MODES as readonly string[]).includes(value);
}
