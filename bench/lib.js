// Shared by the benchmarks: a deterministic generated context, timing, process helpers.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import { closeSync, createReadStream, existsSync, mkdirSync, mkdtempSync, openSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findDockerd, stopDockerdAt } from '../packages/core/test/helpers/dockerd-process.js';

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
export async function startLocalRegistry(dir, options = {}) {
  const host = `127.0.0.1:${await freePort()}`;
  mkdirSync(dir, { recursive: true });
  // With accessLog: a line per request in that file (to count what clients download).
  const log = options.accessLog ? 'log:\n  level: info\n  accesslog:\n    disabled: false\n' : 'log:\n  level: error\n';
  writeFileSync(
    join(dir, 'registry.yml'),
    `version: 0.1\n${log}storage:\n  filesystem:\n    rootdirectory: ${join(dir, 'data')}\nhttp:\n  addr: ${host}\n`,
  );
  const out = options.accessLog ? openSync(options.accessLog, 'a') : 'ignore';
  const registry = spawn('/usr/bin/docker-registry', ['serve', join(dir, 'registry.yml')], { stdio: ['ignore', out, out] });
  if (typeof out === 'number') closeSync(out);
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

// --- the Debian 12 base the RUN benchmarks start from, and the docker daemon they compare with ---

/** The rootfs that scripts/make-test-debian-rootfs.sh caches for the tests. */
export const debianRootfsTar =
  process.env.KILN_TEST_DEBIAN_ROOTFS ?? join(process.env.KILN_TEST_CACHE_DIR ?? '/var/cache/kiln-test', 'debian-bookworm-minbase.tar');

async function sha256File(path) {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk);
  return h.digest('hex');
}

/**
 * A docker-archive `name` around the cached Debian rootfs tar, with a fixed config, so that
 * `kiln load` and `docker load` of the same file give the same image ID (returned).
 */
export async function writeDebianBaseArchive(dest, name, stagingDir) {
  const diffId = await sha256File(debianRootfsTar);
  const created = '2020-01-01T00:00:00Z';
  const arch = { x64: 'amd64', arm64: 'arm64' }[process.arch] ?? process.arch;
  const config = Buffer.from(JSON.stringify({
    architecture: arch,
    os: 'linux',
    created,
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['bash'] },
    rootfs: { type: 'layers', diff_ids: [`sha256:${diffId}`] },
    history: [{ created, created_by: 'debootstrap --variant=minbase bookworm (scripts/make-test-debian-rootfs.sh)' }],
  }));
  const configHex = createHash('sha256').update(config).digest('hex');
  mkdirSync(stagingDir, { recursive: true });
  writeFileSync(join(stagingDir, `${configHex}.json`), config);
  writeFileSync(join(stagingDir, 'manifest.json'), JSON.stringify([{ Config: `${configHex}.json`, RepoTags: [name], Layers: [`${diffId}/layer.tar`] }]));
  const file = basename(debianRootfsTar);
  run('tar', [
    '--numeric-owner', '--sort=name', '--mtime=@0', '--format=gnu', '-cf', dest,
    '-C', stagingDir, `${configHex}.json`, 'manifest.json',
    '-C', dirname(debianRootfsTar), `--transform=s|^${file.replace(/[.]/g, '\\.')}$|${diffId}/layer.tar|`, file,
  ]);
  return `sha256:${configHex}`;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function answers(env) {
  return existsSync(docker) && spawnSync(docker, ['version', '--format', '{{.Server.Version}}'], { env, encoding: 'utf8' }).status === 0;
}

/**
 * { env, stop(), where } for a docker client: the daemon at DOCKER_HOST (or the default socket)
 * when one answers, else a private dockerd started here (as the tests do: its own /tmp
 * directory, no bridge, no iptables), or undefined when there is no daemon to use.
 */
export async function dockerDaemon() {
  const base = { ...process.env, DOCKER_BUILDKIT: '1' };
  if (answers(base)) return { env: base, stop: async () => undefined, where: process.env.DOCKER_HOST ?? 'the default socket' };
  const dockerd = findDockerd();
  if (!dockerd || process.getuid?.() !== 0 || !existsSync(docker)) return undefined;
  const root = mkdtempSync('/tmp/kiln-bench-dockerd-');
  for (const d of ['data', 'exec', 'client-config']) mkdirSync(join(root, d));
  writeFileSync(join(root, 'client-config', 'config.json'), '{}\n');
  writeFileSync(join(root, 'daemon.json'), '{}\n');
  const host = `unix://${root}/docker.sock`;
  const tag = root.slice(-6).toLowerCase().replace(/[^a-z0-9]/g, 'x');
  const log = openSync(join(root, 'dockerd.log'), 'a');
  const child = spawn(dockerd, [
    '--data-root', join(root, 'data'), '--exec-root', join(root, 'exec'), '-H', host,
    '--pidfile', join(root, 'docker.pid'), '--config-file', join(root, 'daemon.json'),
    '--iptables=false', '--ip-forward=false', '--ip-masq=false', '--bridge=none', '--userland-proxy=false',
    '--containerd-namespace', `kiln-bench-${tag}`, '--containerd-plugins-namespace', `kiln-bench-${tag}-plugins`,
  ], { stdio: ['ignore', log, log], env: { PATH: `${process.env.PATH ?? ''}:/usr/sbin:/usr/bin:/sbin:/bin`, HOME: root } });
  closeSync(log);
  const stop = () => stopDockerdAt({ pid: child.pid, root });
  const env = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', HOME: root, DOCKER_HOST: host, DOCKER_CONFIG: join(root, 'client-config'), DOCKER_BUILDKIT: '1' };
  for (const deadline = Date.now() + 60_000; !answers(env); await sleep(250)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`the private dockerd did not start (see ${join(root, 'dockerd.log')})`);
    }
  }
  return { env, stop, where: `a private dockerd (${root})` };
}
