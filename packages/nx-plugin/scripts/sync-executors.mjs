#!/usr/bin/env node
// The single source of the executor declarations is packages/nx-plugin/executors.json (what the
// packed plugin ships). The repository's top-level executors.json, which lets the repository serve
// as a local Nx plugin, is generated from it with every path rebased onto packages/nx-plugin.
//   node packages/nx-plugin/scripts/sync-executors.mjs           writes the top-level file
//   node packages/nx-plugin/scripts/sync-executors.mjs --check   fails if it is out of date
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkgDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const repoRoot = join(pkgDir, '..', '..');
const source = join(pkgDir, 'executors.json');
const target = join(repoRoot, 'executors.json');

function rebase(path) {
  return './' + relative(repoRoot, join(pkgDir, path)).split('\\').join('/');
}

const declared = JSON.parse(readFileSync(source, 'utf8'));
const out = {
  $comment: 'Generated from packages/nx-plugin/executors.json by packages/nx-plugin/scripts/sync-executors.mjs (npm run build); do not edit.',
  executors: {},
};
for (const [name, entry] of Object.entries(declared.executors)) {
  out.executors[name] = {
    ...entry,
    implementation: rebase(entry.implementation),
    ...(entry.batchImplementation ? { batchImplementation: rebase(entry.batchImplementation) } : {}),
    schema: rebase(entry.schema),
  };
}
const text = JSON.stringify(out, null, 2) + '\n';

if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(target, 'utf8');
  } catch {}
  if (current !== text) {
    console.error(`${relative(process.cwd(), target) || target} is out of date with packages/nx-plugin/executors.json: run node packages/nx-plugin/scripts/sync-executors.mjs`);
    process.exit(1);
  }
} else {
  writeFileSync(target, text);
}
