// Shared by the benchmarks: a deterministic generated context, timing, process helpers.
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const kilnBin = join(root, 'packages/core/bin/kiln.js');
export const docker = process.env.BENCH_DOCKER_CLI ?? '/usr/bin/docker';

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

export function generateContext(dir) {
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

export function time(fn) {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

export function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${r.stderr}`);
  return r.stdout;
}

export function dockerAvailable() {
  if (!existsSync(docker)) return false;
  return spawnSync(docker, ['version', '--format', '{{.Server.Version}}'], { encoding: 'utf8' }).status === 0;
}

/** The file the "one changed file" phases rewrite. */
export function changeOneFile(ctx, n) {
  writeFileSync(join(ctx, 'src/pkg7/file7.js'), `changed ${n}\n`);
}


async function freePort() {
  const server = createServer();
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  return port;
}

/** A CNCF docker-registry on 127.0.0.1 storing under `dir`: { host, stop() }. */
export async function startLocalRegistry(dir) {
  const host = `127.0.0.1:${await freePort()}`;
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'registry.yml'),
    `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, 'data')}\nhttp:\n  addr: ${host}\n`,
  );
  const registry = spawn('/usr/bin/docker-registry', ['serve', join(dir, 'registry.yml')], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    if (await fetch(`http://${host}/v2/`).then((r) => r.ok, () => false)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const stop = async () => {
    if (registry.exitCode !== null) return;
    registry.kill('SIGTERM');
    await new Promise((r) => registry.once('exit', r));
  };
  return { host, stop };
}
