// Push benchmark: the build benchmark's context, pushed to a local CNCF registry (docker-registry
// on 127.0.0.1) cold, unchanged, and after one changed file, by `kiln push` and (when a Docker
// daemon answers) by `docker push` of the same Dockerfile built by `docker build`, in the same run.
//
// Run: npm run build && node bench/push.js
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { changeOneFile, docker, dockerAvailable, generateContext, kilnBin, run, startLocalRegistry, time } from './lib.js';

const work = mkdtempSync(join(tmpdir(), 'kiln-bench-push-'));
const registry = await startLocalRegistry(join(work, 'registry'));
const host = registry.host;

try {
  const ctx = join(work, 'ctx');
  generateContext(ctx);
  writeFileSync(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY package.json /app/\nCOPY deps/ /app/deps/\nCOPY src/ /app/src/\n');
  const store = join(work, 'store');
  const kilnImage = `${host}/bench/kiln:1`;
  const kilnBuild = () => run(process.execPath, [kilnBin, 'build', '--store', store, '-q', '-t', kilnImage, ctx]);
  const kilnPush = () => time(() => run(process.execPath, [kilnBin, 'push', '--store', store, kilnImage]));
  kilnBuild();
  const results = { kiln: { cold: kilnPush(), unchanged: kilnPush() } };
  changeOneFile(ctx, 1);
  kilnBuild();
  results.kiln.oneFile = kilnPush();

  const withDocker = dockerAvailable();
  if (withDocker) {
    const env = { ...process.env, DOCKER_BUILDKIT: '1' };
    const dockerImage = `${host}/bench/docker:1`;
    changeOneFile(ctx, 0);
    const dockerBuild = () => run(docker, ['build', '-q', '-t', dockerImage, ctx], { env });
    const dockerPush = () => time(() => run(docker, ['push', dockerImage], { env }));
    dockerBuild();
    results.docker = { cold: dockerPush(), unchanged: dockerPush() };
    changeOneFile(ctx, 2);
    dockerBuild();
    results.docker.oneFile = dockerPush();
  }

  const fmt = (ms) => `${(ms / 1000).toFixed(2)} s`;
  console.log('push to a local docker-registry: 3 layers (25 MB), cold / unchanged / after one changed file');
  console.log(`               kiln push   ${withDocker ? 'docker push   ratio (docker/kiln)' : '(no Docker daemon answered: docker side skipped)'}`);
  for (const phase of ['cold', 'unchanged', 'oneFile']) {
    const k = results.kiln[phase];
    const d = results.docker?.[phase];
    console.log(`${phase.padEnd(12)} ${fmt(k).padStart(9)}${d !== undefined ? `   ${fmt(d).padStart(9)}     ${(d / k).toFixed(1)}x` : ''}`);
  }
} finally {
  await registry.stop();
  rmSync(work, { recursive: true, force: true });
}
