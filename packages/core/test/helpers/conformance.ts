import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');

/** Where the shared upstream test data lives: KILN_CONFORMANCE_DIR or ../shared/conformance. */
export const conformanceDir = process.env.KILN_CONFORMANCE_DIR ?? resolve(repoRoot, '../shared/conformance');

/**
 * The folder of one conformance suite, or undefined (with a visible message) when it is absent,
 * e.g. in a plain clone outside this workplace.
 */
export function conformanceSuite(name: string): string | undefined {
  const dir = resolve(conformanceDir, name);
  if (existsSync(dir)) return dir;
  console.warn(`SKIPPED: conformance suite '${name}' not found at ${dir} (set KILN_CONFORMANCE_DIR)`);
  return undefined;
}

/** `describe` when the suite exists, `describe.skip` otherwise. */
export function describeSuite(name: string, body: (dir: string) => void): void {
  const dir = conformanceSuite(name);
  if (dir) describe(`conformance: ${name}`, () => body(dir));
  else describe.skip(`conformance: ${name} (absent)`, () => it('absent', () => undefined));
}

export { repoRoot };
