// Once per jest run, after jest's own summary:
// - lists what was skipped and why: the tests skipped for a missing tool (KILN_SKIP_MISSING_TOOLS=1)
//   or by an explicit choice (KILN_SKIP_DOCKER_TESTS=1, KILN_HARNESS_TESTS or KILN_BENCH not set),
//   as packages/core/test/helpers/requirements.ts recorded them in $KILN_TEST_RUN_DIR/skipped.jsonl
//   (nothing is printed when nothing was skipped);
// - stops the run's shared dockerd by its PID (only a process whose command line names its
//   private directory), then removes the run directory.
import { existsSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { stopDockerdAt } from './packages/core/test/helpers/dockerd-process.js';

function skipList(dir) {
  const file = join(dir, 'skipped.jsonl');
  if (!existsSync(file)) return '';
  const entries = [...new Set(readFileSync(file, 'utf8').split('\n').filter((l) => l !== ''))].map((l) => JSON.parse(l));
  const byFile = new Map();
  for (const e of entries) byFile.set(e.file, [...(byFile.get(e.file) ?? []), e]);
  const out = [`Skipped on purpose in this run (${entries.length}; without KILN_SKIP_MISSING_TOOLS a missing tool fails instead):`];
  for (const [name, list] of [...byFile].sort((a, b) => a[0].localeCompare(b[0]))) {
    out.push(`  ${name}`);
    for (const e of list) out.push(`    - ${e.title}: ${e.reason}`);
  }
  return `${out.join('\n')}\n`;
}

export default async function globalTeardown() {
  const dir = process.env.KILN_TEST_RUN_DIR;
  if (!dir) return;
  process.stderr.write(skipList(dir));
  const info = join(dir, 'dockerd.json');
  if (existsSync(info)) await stopDockerdAt(JSON.parse(readFileSync(info, 'utf8')));
  await rm(dir, { recursive: true, force: true });
}
