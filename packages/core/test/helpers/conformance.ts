import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { describeNeeding, repoRoot, type Requirement } from './requirements.js';

/** Where the shared upstream test data lives: KILN_CONFORMANCE_DIR or ../shared/conformance. */
export const conformanceDir = process.env.KILN_CONFORMANCE_DIR ?? resolve(repoRoot, '../shared/conformance');

/**
 * One suite of the shared conformance data as a requirement: absent (a plain clone outside this
 * workplace, say) it fails the tests that read it, or skips them with KILN_SKIP_MISSING_TOOLS=1.
 */
export function conformanceData(name: string): Requirement {
  const dir = resolve(conformanceDir, name);
  return {
    id: `conformance:${name}`,
    what: `conformance data '${name}'`,
    unavailable: () => (existsSync(dir) ? undefined : `not found at ${dir}`),
    remedy: 'point KILN_CONFORMANCE_DIR at the folder of upstream test data (../shared/conformance in this workplace)',
  };
}

/** `describe('conformance: NAME')` over the suite's folder, when it is there (see conformanceData). */
export function describeSuite(name: string, body: (dir: string) => void): void {
  describeNeeding([conformanceData(name)], `conformance: ${name}`, () => body(resolve(conformanceDir, name)));
}

export { repoRoot };
