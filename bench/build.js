// Build benchmark: a generated context (~2,000 small files / 20 MB plus a 5 MB dependency folder)
// and a COPY-only Dockerfile on a local base image, built cold, with no change, and after one
// changed file, by Kiln and (when a Docker daemon answers) by `docker build` in the same run.
// Also: peak memory of a cold Kiln build of a large context (BENCH_LARGE_MB, default 1024).
//
// Run: npm run build && node bench/build.js          (docker side: DOCKER_HOST or /var/run/docker.sock)
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const kilnBin = join(root, 'packages/core/bin/kiln.js');
const docker = process.env.BENCH_DOCKER_CLI ?? '/usr/bin/docker';
const work = mkdtempSync(join(tmpdir(), 'kiln-bench-'));

/** Deterministic pseudo-random bytes, so every run builds the same context. */
function bytes(n, seed) {
  const out = Buffer.alloc(n);
  let x = seed * 2654435761 >>> 0;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

function generateContext(dir) {
  // 2,000 files of ~10 KB in 40 folders (20 MB) + a 5 MB "node_modules"-like folder of 500 files.
  for (let i = 0; i < 2000; i++) {
    const path = join(dir, 'src', `pkg${i % 40}`, `file${i}.js`);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, bytes(10 * 1024, i + 1).toString('base64').slice(0, 10 * 1024));
  }
  for (let i = 0; i < 500; i++) {
    const path = join(dir, 'deps', `dep${i % 25}`, `index${i}.js`);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, bytes(10 * 1024, 100000 + i));
  }
  writeFileSync(join(dir, 'package.json'), '{"name":"bench"}\n');
}

function time(fn) {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${r.stderr}`);
  return r.stdout;
}

function dockerAvailable() {
  if (!existsSync(docker)) return false;
  return spawnSync(docker, ['version', '--format', '{{.Server.Version}}'], { encoding: 'utf8' }).status === 0;
}

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

const kiln = (extra = []) =>
  time(() => run(process.execPath, [kilnBin, 'build', '--store', kilnStore, '-q', '-f', join(ctx, 'Kiln.Dockerfile'), '-t', 'bench:1', ...extra, ctx]));
const changeOneFile = (n) => writeFileSync(join(ctx, 'src/pkg7/file7.js'), `changed ${n}\n`);

const results = {};
results.kiln = { cold: kiln(), noChange: kiln() };
changeOneFile(1);
results.kiln.oneFile = kiln();

const withDocker = dockerAvailable();
if (withDocker) {
  const env = { ...process.env, DOCKER_BUILDKIT: '1' };
  run('tar', ['-C', baseRootfs, '--numeric-owner', '-cf', join(work, 'base.tar'), '.']);
  run(docker, ['import', join(work, 'base.tar'), 'kiln-bench/base:1']);
  spawnSync(docker, ['builder', 'prune', '-af'], { env });
  spawnSync(docker, ['rmi', '-f', 'kiln-bench/app:1'], { env });
  const dockerBuild = () => time(() => run(docker, ['build', '-q', '-f', join(ctx, 'Docker.Dockerfile'), '-t', 'kiln-bench/app:1', ctx], { env }));
  changeOneFile(0);
  results.docker = { cold: dockerBuild(), noChange: dockerBuild() };
  changeOneFile(2);
  results.docker.oneFile = dockerBuild();
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
console.log(`context: 2,000 files / 20 MB + 500 files / 5 MB of deps; COPY-only Dockerfile on a local base`);
console.log(`                 kiln        ${withDocker ? 'docker build   ratio (docker/kiln)' : '(no Docker daemon answered: docker side skipped)'}`);
for (const phase of ['cold', 'noChange', 'oneFile']) {
  const k = results.kiln[phase];
  const d = results.docker?.[phase];
  console.log(`${phase.padEnd(12)} ${fmt(k).padStart(9)}${d !== undefined ? `   ${fmt(d).padStart(9)}      ${(d / k).toFixed(1)}x` : ''}`);
}
if (peakMb !== undefined) console.log(`peak RSS, cold kiln build of a ${largeMb} MB context: ${peakMb.toFixed(0)} MB`);
rmSync(work, { recursive: true, force: true });
