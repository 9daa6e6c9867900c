// Build benchmark: a generated context (~2,000 small files / 20 MB plus a 5 MB dependency folder)
// and a COPY-only Dockerfile on a local base image, built cold, with no change, and after one
// changed file, by Kiln and (when a Docker daemon answers) by `docker build` in the same run.
// Also: peak memory of a cold Kiln build of a large context (BENCH_LARGE_MB, default 1024).
//
// Run: npm run build && node bench/build.js          (docker side: DOCKER_HOST or /var/run/docker.sock)
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { changeOneFile, docker, dockerAvailable, generateContext, kilnBin, run, time } from './lib.js';

const work = mkdtempSync(join(tmpdir(), 'kiln-bench-'));


// --- base image: a busybox-like rootfs, imported for docker, built by Kiln as an OCI layout ---
const baseRootfs = join(work, 'base-rootfs');
mkdirSync(join(baseRootfs, 'etc'), { recursive: true });
mkdirSync(join(baseRootfs, 'bin'), { recursive: true });
writeFileSync(join(baseRootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
writeFileSync(join(baseRootfs, 'bin/placeholder'), 'base image file\n');
const kilnStore = join(work, 'kiln-store');
const baseCtx = join(work, 'base-ctx');
mkdirSync(baseCtx);
run('cp', ['-a', baseRootfs, join(baseCtx, 'rootfs')]);
writeFileSync(join(baseCtx, 'Dockerfile'), 'FROM scratch\nCOPY rootfs/ /\n');
const baseLayout = join(work, 'base-layout');
run(process.execPath, [kilnBin, 'build', '--store', kilnStore, '-q', '-t', 'bench-base:1', '-o', `type=oci,dest=${baseLayout}`, baseCtx]);

const ctx = join(work, 'ctx');
generateContext(ctx);
const dockerfile = (from) => `FROM ${from}\nWORKDIR /app\nCOPY package.json ./\nCOPY deps/ ./deps/\nCOPY src/ ./src/\nCMD ["/bin/sh"]\n`;
writeFileSync(join(ctx, 'Kiln.Dockerfile'), dockerfile(`oci-layout://${baseLayout}:1`));
writeFileSync(join(ctx, 'Docker.Dockerfile'), dockerfile('kiln-bench/base:1'));
writeFileSync(join(ctx, '.dockerignore'), '*.Dockerfile\n');

const kiln = (store = kilnStore) =>
  time(() => run(process.execPath, [kilnBin, 'build', '--store', store, '-q', '-f', join(ctx, 'Kiln.Dockerfile'), '-t', 'bench:1', ctx]));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const times = (n, fn) => median(Array.from({ length: n }, (_, i) => fn(i)));
let edit = 0;

const results = {};
// Cold: a store that has only the base (copied from the one that built it), three times.
const coldStore = (i) => {
  const store = join(work, `kiln-cold-${i}`);
  run('cp', ['-a', kilnStore, store]);
  return store;
};
results.kiln = { cold: times(3, (i) => kiln(coldStore(i))) };
kiln();
results.kiln.noChange = times(3, () => kiln());
results.kiln.oneFile = times(3, () => (changeOneFile(ctx, ++edit), kiln()));

const withDocker = dockerAvailable();
if (withDocker) {
  const env = { ...process.env, DOCKER_BUILDKIT: '1' };
  run('tar', ['-C', baseRootfs, '--numeric-owner', '-cf', join(work, 'base.tar'), '.']);
  run(docker, ['import', join(work, 'base.tar'), 'kiln-bench/base:1']);
  spawnSync(docker, ['builder', 'prune', '-af'], { env });
  spawnSync(docker, ['rmi', '-f', 'kiln-bench/app:1'], { env });
  const dockerBuild = () => time(() => run(docker, ['build', '-q', '-f', join(ctx, 'Docker.Dockerfile'), '-t', 'kiln-bench/app:1', ctx], { env }));
  const dockerCold = () => {
    spawnSync(docker, ['builder', 'prune', '-af'], { env });
    spawnSync(docker, ['rmi', '-f', 'kiln-bench/app:1'], { env });
    return dockerBuild();
  };
  results.docker = { cold: times(3, dockerCold) };
  results.docker.noChange = times(3, dockerBuild);
  results.docker.oneFile = times(3, () => (changeOneFile(ctx, ++edit), dockerBuild()));
}

// --- peak memory of a cold Kiln build of a large context ---
const largeMb = Number(process.env.BENCH_LARGE_MB ?? 1024);
let peakMb;
if (largeMb > 0 && existsSync('/usr/bin/time')) {
  const big = join(work, 'big');
  mkdirSync(big);
  for (let i = 0; i < largeMb / 64; i++) writeFileSync(join(big, `blob${i}.bin`), randomBytes(64 << 20));
  writeFileSync(join(big, 'Dockerfile'), 'FROM scratch\nCOPY . /data/\n');
  const r = spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, kilnBin, 'build', '--store', join(work, 'big-store'), '-q', big], { encoding: 'utf8' });
  peakMb = Number(r.stderr.trim().split('\n').pop()) / 1024;
}

const fmt = (ms) => `${(ms / 1000).toFixed(2)} s`;
console.log(`context: 2,000 files / 20 MB + 500 files / 5 MB of deps; COPY-only Dockerfile on a local base; medians of 3`);
console.log(`                 kiln        ${withDocker ? 'docker build   ratio (docker/kiln)' : '(no Docker daemon answered: docker side skipped)'}`);
for (const phase of ['cold', 'noChange', 'oneFile']) {
  const k = results.kiln[phase];
  const d = results.docker?.[phase];
  console.log(`${phase.padEnd(12)} ${fmt(k).padStart(9)}${d !== undefined ? `   ${fmt(d).padStart(9)}      ${(d / k).toFixed(1)}x` : ''}`);
}
if (peakMb !== undefined) console.log(`peak RSS, cold kiln build of a ${largeMb} MB context: ${peakMb.toFixed(0)} MB`);
rmSync(work, { recursive: true, force: true });
