// GitHub Action benchmark: the steps a workflow runs (restore the layer cache, build, push, save
// the cache) with Kiln's action, run as the runner runs it (the committed bundle, on a fresh
// runner home each time, against a local Actions cache service and a local docker-registry),
// versus `docker build` + `docker push` of the same Dockerfile in the same run. Cold (nothing
// cached anywhere) and after one changed file. The docker side runs twice: on a daemon whose build
// cache was emptied (a fresh hosted runner, no cache export: Debian's docker has no buildx for
// `cache-to: type=gha`) and on a warm daemon (a self-hosted runner, docker's best case).
//
// Run: npm run bundle && node bench/action.js       (docker side: DOCKER_HOST or /var/run/docker.sock)
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { transformFileSync } from '@swc/core';
import { changeOneFile, docker, dockerAvailable, generateContext, root, run, startLocalRegistry, time } from './lib.js';

// The test helpers (TypeScript) that run the bundle and serve the cache, compiled for this run.
// Compiled into node_modules/ so that their own imports (yaml) resolve from the repository.
const helpers = join(root, 'node_modules/.cache/kiln-bench-action');
mkdirSync(helpers, { recursive: true });
for (const name of ['runner', 'actions-cache-service']) {
  const { code } = transformFileSync(join(root, 'packages/action/test/helpers', `${name}.ts`), {
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'es6' },
  });
  // The runner finds the repository from its own path; point it back at the real one.
  writeFileSync(join(helpers, `${name}.mjs`), code.replace(/resolve\(dirname\(fileURLToPath\(import\.meta\.url\)\), '..\/..\/..\/..'\)/, JSON.stringify(root)));
}
const { runJob } = await import(pathToFileURL(join(helpers, 'runner.mjs')).href);
const { startActionsCacheService } = await import(pathToFileURL(join(helpers, 'actions-cache-service.mjs')).href);

const work = mkdtempSync(join(tmpdir(), 'kiln-bench-action-'));
const reps = Number(process.env.BENCH_REPS ?? 3);
// The action's compression input (default gzip, level 1); BENCH_COMPRESSION=none shows the rest.
const compression = process.env.BENCH_COMPRESSION ?? 'gzip';

const registry = await startLocalRegistry(join(work, 'registry'));
const host = registry.host;
const cacheService = await startActionsCacheService();

try {
  const ctx = join(work, 'ctx');
  generateContext(ctx);
  writeFileSync(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY package.json /app/\nCOPY deps/ /app/deps/\nCOPY src/ /app/src/\n');
  const home = join(work, 'home');

  /**
   * One workflow run of the action on a fresh runner (empty home, so an empty Kiln store):
   * restore, build, push, save. `cacheKey` keeps the repetitions' caches apart.
   */
  async function kilnJob(repo, tag, cacheKey) {
    rmSync(home, { recursive: true, force: true });
    mkdirSync(home);
    const started = process.hrtime.bigint();
    const { main, post } = await runJob({
      workspace: ctx,
      home,
      github: { GITHUB_EVENT_NAME: 'push', GITHUB_REF: `refs/tags/${tag}`, GITHUB_REPOSITORY: 'org/bench', GITHUB_SHA: '0'.repeat(40) },
      event: {},
      inputs: { tags: `${host}/${repo}:${tag}`, push: 'true', 'cache-key': cacheKey, compression },
      env: cacheService.env(),
    });
    if (main.code !== 0 || post?.code !== 0) throw new Error(`the action failed:\n${main.stdout}\n${main.stderr}\n${post?.stdout ?? ''}`);
    return Number(process.hrtime.bigint() - started) / 1e6;
  }

  function dockerJob(repo, tag) {
    return time(() => {
      run(docker, ['build', '-q', '-t', `${host}/${repo}:${tag}`, ctx], { env: { ...process.env, DOCKER_BUILDKIT: '1' } });
      run(docker, ['push', '-q', `${host}/${repo}:${tag}`]);
    });
  }

  const withDocker = dockerAvailable();
  const results = { kiln: { cold: [], change: [] } };
  if (withDocker) results['docker (fresh daemon cache)'] = { cold: [], change: [] };
  if (withDocker) results['docker (warm daemon)'] = { cold: [], change: [] };
  let changes = 0;
  for (let i = 0; i < reps; i++) {
    // Each repetition: a new registry repository and cache key, so "cold" is cold.
    results.kiln.cold.push(await kilnJob(`kiln/app${i}`, 'v1', `bench-${i}`));
    changeOneFile(ctx, ++changes);
    results.kiln.change.push(await kilnJob(`kiln/app${i}`, 'v2', `bench-${i}`));
    if (!withDocker) continue;
    for (const [label, fresh] of [['docker (fresh daemon cache)', true], ['docker (warm daemon)', false]]) {
      const repo = `docker/${fresh ? 'fresh' : 'warm'}${i}`;
      run(docker, ['builder', 'prune', '-af']);
      results[label].cold.push(dockerJob(repo, 'v1'));
      changeOneFile(ctx, ++changes);
      if (fresh) run(docker, ['builder', 'prune', '-af']);
      results[label].change.push(dockerJob(repo, 'v2'));
    }
  }

  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const fmt = (ms) => `${(ms / 1000).toFixed(2)} s`;
  const kiln = { cold: median(results.kiln.cold), change: median(results.kiln.change) };
  console.log(`\nrestore + build + push + save, 2,000 files / 20 MB + 5 MB deps, action compression ${compression}, median of ${reps}`);
  console.log(`${'tool'.padEnd(30)}${'cold'.padStart(10)}${'one file changed'.padStart(20)}`);
  console.log(`${'kiln action (fresh runner)'.padEnd(30)}${fmt(kiln.cold).padStart(10)}${fmt(kiln.change).padStart(20)}`);
  for (const label of Object.keys(results).filter((l) => l !== 'kiln')) {
    const cold = median(results[label].cold);
    const change = median(results[label].change);
    console.log(`${label.padEnd(30)}${fmt(cold).padStart(10)}${fmt(change).padStart(20)}   ratio ${(cold / kiln.cold).toFixed(2)}x / ${(change / kiln.change).toFixed(2)}x`);
  }
  if (!withDocker) console.log('(no Docker daemon answered: docker side skipped)');
  const sizes = cacheService.entries().filter((e) => e.finalized).map((e) => e.sizeBytes);
  console.log(`saved cache entries: ${sizes.map((s) => `${(s / 1024 / 1024).toFixed(1)} MiB`).join(', ')}`);
} finally {
  await registry.stop();
  await cacheService.close();
  rmSync(work, { recursive: true, force: true });
}
