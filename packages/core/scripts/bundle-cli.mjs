#!/usr/bin/env node
// Bundles the built CLI (dist/cli/main.js and everything it imports) into dist/cli/bundle.js,
// which bin/kiln.js runs: Node loads a few modules instead of about a hundred. Each verb's
// module is a chunk of its own (main.ts imports them when they run), minified, so `kiln
// --version` loads only the entry. Everything sits next to main.js so that paths taken from
// import.meta.url (../../package.json, ./run-helper.js) still hold.
// Run by `npm run build` and `npm test`, after tsc.
import { readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const pkgDir = join(dirname(fileURLToPath(import.meta.url)), '..');

// Chunks of an earlier build (their names are content hashes) go first.
for (const name of readdirSync(join(pkgDir, 'dist/cli'))) if (name.startsWith('chunk-')) rmSync(join(pkgDir, 'dist/cli', name));

// The elevated RUN helper (run/run-helper.ts) goes beside it: the CLI starts it with sudo by path.
await esbuild.build({
  entryPoints: { bundle: join(pkgDir, 'dist/cli/main.js'), 'run-helper': join(pkgDir, 'dist/run/run-helper.js') },
  outdir: join(pkgDir, 'dist/cli'),
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  splitting: true,
  chunkNames: 'chunk-[hash]',
  minify: true,
  // Names stay: error classes and stack traces read as in the sources.
  keepNames: true,
  sourcemap: true,
  legalComments: 'eof',
  logLevel: 'warning',
});
