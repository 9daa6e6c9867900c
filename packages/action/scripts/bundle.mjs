#!/usr/bin/env node
// Bundles the Action (src/main.ts, src/post.ts and everything they import: @kiln/core's built
// dist, @actions/*) into dist/, which is committed because the runner runs it as it is.
//   node packages/action/scripts/bundle.mjs           writes dist/ (npm run bundle)
//   node packages/action/scripts/bundle.mjs --check   fails if dist/ is not what the sources give
// Deterministic: same sources and lockfile, same bytes (paths in comments are relative to the repo).
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const pkgDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const repoRoot = join(pkgDir, '..', '..');
const dist = join(pkgDir, 'dist');

// The bundle is ESM; the CommonJS packages inside it (handlebars, moment, tunnel, ...) require()
// Node's built-in modules, which an ES module can only do through createRequire.
const banner = ["import { createRequire as __kilnCreateRequire } from 'node:module';", 'const require = __kilnCreateRequire(import.meta.url);'].join('\n');

const result = await esbuild.build({
  absWorkingDir: repoRoot,
  // run-helper: the elevated RUN helper, which the Action starts with sudo on hosted runners.
  entryPoints: { main: join(pkgDir, 'src/main.ts'), post: join(pkgDir, 'src/post.ts'), 'run-helper': join(repoRoot, 'packages/core/dist/run/run-helper.js') },
  outdir: dist,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  chunkNames: 'chunks/[name]-[hash]',
  banner: { js: banner },
  legalComments: 'eof',
  charset: 'utf8',
  write: false,
  logLevel: 'warning',
  // handlebars' Node entry registers require.extensions, which a bundle never uses.
  logOverride: { 'unsupported-require-call': 'silent' },
});

const wanted = new Map(result.outputFiles.map((f) => [relative(dist, f.path).split('\\').join('/'), Buffer.from(f.contents)]));

function listDist(dir = dist, prefix = '') {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listDist(join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`],
  );
}

if (process.argv.includes('--check')) {
  const problems = [];
  for (const [name, bytes] of wanted) {
    const path = join(dist, name);
    if (!existsSync(path)) problems.push(`missing ${name}`);
    else if (!readFileSync(path).equals(bytes)) problems.push(`stale ${name}`);
  }
  for (const name of listDist()) if (!wanted.has(name)) problems.push(`unexpected ${name}`);
  if (problems.length) {
    console.error(`packages/action/dist is out of date with its sources (${problems.join(', ')}): run npm run bundle and commit packages/action/dist`);
    process.exit(1);
  }
} else {
  rmSync(dist, { recursive: true, force: true });
  for (const [name, bytes] of wanted) {
    mkdirSync(dirname(join(dist, name)), { recursive: true });
    writeFileSync(join(dist, name), bytes);
  }
  const size = [...wanted.values()].reduce((n, b) => n + b.length, 0);
  console.log(`wrote ${wanted.size} files to ${relative(process.cwd(), dist) || dist} (${(size / 1024 / 1024).toFixed(1)} MiB)`);
}
