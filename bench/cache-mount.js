// Cache-mount benchmark: the second CI run of a Node app whose Dockerfile says
//   RUN --mount=type=cache,target=/root/.npm npm ci
// after its lock file changed (one dependency added), so `npm ci` runs again. What a user sees
// depends on whether npm's cache from the first run is still there:
//   kiln, mounts carried   a fresh store (a new runner) with the cache mounts the first run left,
//                          as the Action restores them (cache-mounts: true)
//   kiln, no mounts        a fresh store without them (the Action with cache-mounts: false)
//   docker, fresh runner   `docker build` after `docker builder prune -af`: build-push-action's
//                          GitHub cache (type=gha) exports layers, not cache mounts, so a new
//                          runner starts with an empty npm cache
//   docker, warm daemon    `docker build` on the daemon that ran the first build (a self-hosted
//                          runner): BuildKit still has the mount
// Both tools start each run with the Debian + node base already loaded and extracted. The npm registry is a
// small server on 127.0.0.1 (in a process of its own) serving BENCH_PACKAGES packages (default
// 150, ~40 KB each) and answering each request after BENCH_REGISTRY_DELAY_MS (default 40 ms), a
// stand-in for registry.npmjs.org's latency; it counts the tarballs it sends. Medians of
// BENCH_REPS (default 3). RUN needs root.
//
// Run: npm run build && node bench/cache-mount.js
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { debianRootfsTar, docker, dockerDaemon, kilnBin, run, time, writeDebianBaseArchive } from './lib.js';

const reps = Number(process.env.BENCH_REPS ?? 3);
const packages = Number(process.env.BENCH_PACKAGES ?? 150);
const delayMs = Number(process.env.BENCH_REGISTRY_DELAY_MS ?? 40);
const BASE = 'kiln-bench/debian:bookworm';
const NODE_BASE = 'kiln-bench/node:20';
const APP = 'kiln-bench/npm-app:1';

if (!existsSync(debianRootfsTar)) {
  console.error(`bench/cache-mount.js: no Debian base rootfs at ${debianRootfsTar}; make it once, as root: bash scripts/make-test-debian-rootfs.sh`);
  process.exit(1);
}
const work = mkdtempSync(join(tmpdir(), 'kiln-bench-cache-mount-'));
const kilnEnv = { ...process.env, KILN_OFFLINE: '1' };

// --- the registry: packuments and tarballs of bench-dep-N, after a delay, counting tarballs ---
const REGISTRY = `
const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');
const [dir, delay] = process.argv.slice(1);
const index = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8'));
let tarballs = 0;
const server = http.createServer((req, res) => {
  if (req.url === '/-/stats') return res.end(JSON.stringify({ tarballs }));
  setTimeout(() => {
    const base = 'http://127.0.0.1:' + server.address().port + '/';
    const m = /^\\/(bench-dep-\\d+)(\\/-\\/.*\\.tgz)?$/.exec(req.url);
    const pkg = m && index[m[1]];
    if (!pkg) { res.statusCode = 404; return res.end('{}'); }
    if (m[2]) { tarballs++; return res.end(fs.readFileSync(path.join(dir, m[1] + '.tgz'))); }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ name: m[1], 'dist-tags': { latest: '1.0.0' }, versions: { '1.0.0': { name: m[1], version: '1.0.0', dist: { tarball: base + m[1] + '/-/' + m[1] + '-1.0.0.tgz', integrity: pkg.integrity } } } }));
  }, Number(delay));
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

function makePackages(dir) {
  const index = {};
  for (let i = 0; i < packages; i++) {
    const name = `bench-dep-${i}`;
    const src = join(dir, 'src', name, 'package');
    mkdirSync(src, { recursive: true });
    writeFileSync(join(src, 'package.json'), JSON.stringify({ name, version: '1.0.0', main: 'index.js' }));
    writeFileSync(join(src, 'index.js'), `module.exports = ${JSON.stringify(randomBytes(30 * 1024).toString('base64'))}.length;\n`);
    const tgz = join(dir, `${name}.tgz`);
    run('tar', ['-czf', tgz, '-C', dirname(src), 'package']);
    index[name] = { integrity: `sha512-${createHash('sha512').update(readFileSync(tgz)).digest('base64')}` };
  }
  writeFileSync(join(dir, 'index.json'), JSON.stringify(index));
  return index;
}

async function startRegistry(dir) {
  const child = spawn(process.execPath, ['-e', REGISTRY, dir, String(delayMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((resolve) => child.stdout.once('data', (b) => resolve(Number(b.toString().trim()))));
  const url = `http://127.0.0.1:${port}/`;
  return {
    url,
    // A new connection each time: a kept-alive one may have been closed during a long build.
    tarballs: () =>
      new Promise((resolve, reject) => {
        get(`${url}-/stats`, { agent: false }, (res) => {
          let body = '';
          res.on('data', (b) => (body += b));
          res.on('end', () => resolve(JSON.parse(body).tarballs));
        }).on('error', reject);
      }),
    stop: () => new Promise((resolve) => (child.exitCode !== null ? resolve() : (child.once('exit', resolve), child.kill()))),
  };
}

// --- the contexts: Debian + this machine's node and npm; the app with `count` dependencies ---
function writeNodeBase(dir, registryUrl) {
  mkdirSync(join(dir, 'usr/local/bin'), { recursive: true });
  cpSync(process.execPath, join(dir, 'usr/local/bin/node'));
  cpSync(join(dirname(dirname(process.execPath)), 'lib', 'node_modules', 'npm'), join(dir, 'usr/local/lib/node_modules/npm'), { recursive: true });
  writeFileSync(join(dir, 'Dockerfile'), [
    `FROM ${BASE}`,
    'COPY usr/ /usr/',
    'RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm',
    `ENV npm_config_registry=${registryUrl} npm_config_update_notifier=false npm_config_audit=false npm_config_fund=false`,
    '',
  ].join('\n'));
}

function writeApp(dir, index, registryUrl, count) {
  mkdirSync(dir, { recursive: true });
  const names = Object.keys(index).slice(0, count);
  const dependencies = Object.fromEntries(names.map((n) => [n, '1.0.0']));
  const lock = {
    name: 'bench-app', version: '1.0.0', lockfileVersion: 3, requires: true,
    packages: {
      '': { name: 'bench-app', version: '1.0.0', dependencies },
      ...Object.fromEntries(names.map((n) => [`node_modules/${n}`, { version: '1.0.0', resolved: `${registryUrl}${n}/-/${n}-1.0.0.tgz`, integrity: index[n].integrity }])),
    },
  };
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'bench-app', version: '1.0.0', dependencies }));
  writeFileSync(join(dir, 'package-lock.json'), JSON.stringify(lock));
  writeFileSync(join(dir, 'Dockerfile'), [`FROM ${NODE_BASE}`, 'WORKDIR /app', 'COPY package*.json ./', 'RUN --mount=type=cache,target=/root/.npm npm ci', ''].join('\n'));
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = {};
const registry = await (async () => {
  makePackages(join(work, 'registry'));
  return startRegistry(join(work, 'registry'));
})();

try {
  const index = JSON.parse(readFileSync(join(work, 'registry', 'index.json'), 'utf8'));
  const baseArchive = join(work, 'base.tar');
  await writeDebianBaseArchive(baseArchive, BASE, join(work, 'base-archive'));
  const nodeCtx = join(work, 'node-base');
  writeNodeBase(nodeCtx, registry.url);
  const first = join(work, 'app-first');
  const second = join(work, 'app-second');
  writeApp(first, index, registry.url, packages - 1);
  writeApp(second, index, registry.url, packages);

  /** Time one step and count the tarballs the registry sent meanwhile. */
  const measure = async (fn) => {
    const before = await registry.tarballs();
    const ms = time(fn);
    return { ms, tarballs: (await registry.tarballs()) - before };
  };

  // Each Kiln store starts with the bases loaded and unpacked for RUN (a throwaway RUN over them),
  // as docker has them extracted after `docker load`.
  const warm = join(work, 'warm');
  mkdirSync(warm);
  writeFileSync(join(warm, 'Dockerfile'), `FROM ${NODE_BASE}\nRUN true\n`);
  const kilnStore = (name) => {
    const store = join(work, name);
    run(process.execPath, [kilnBin, 'load', '--store', store, '-q', '-i', baseArchive], { env: kilnEnv });
    run(process.execPath, [kilnBin, 'build', '--store', store, '-q', '-t', NODE_BASE, nodeCtx], { env: kilnEnv });
    run(process.execPath, [kilnBin, 'build', '--store', store, '-q', warm], { env: kilnEnv });
    return store;
  };
  const kilnBuild = (store, ctx) => run(process.execPath, [kilnBin, 'build', '--store', store, '-q', '-t', APP, ctx], { env: kilnEnv });
  const firstStore = kilnStore('kiln-first');
  results.kilnFirst = await measure(() => kilnBuild(firstStore, first));
  const k = { carried: [], none: [] };
  for (let i = 0; i < reps; i++) {
    const carried = kilnStore(`kiln-carried-${i}`);
    cpSync(join(firstStore, 'cache-mounts'), join(carried, 'cache-mounts'), { recursive: true });
    k.carried.push(await measure(() => kilnBuild(carried, second)));
    const none = kilnStore(`kiln-none-${i}`);
    k.none.push(await measure(() => kilnBuild(none, second)));
  }
  results.kiln = k;

  const daemon = process.env.BENCH_SKIP_DOCKER ? undefined : await dockerDaemon();
  if (daemon) {
    try {
      const env = daemon.env;
      run(docker, ['load', '-q', '-i', baseArchive], { env });
      run(docker, ['build', '-q', '--network=host', '-t', NODE_BASE, nodeCtx], { env });
      const dockerBuild = (ctx) => run(docker, ['build', '-q', '--network=host', '-t', APP, ctx], { env });
      const d = { fresh: [], warm: [] };
      for (let i = 0; i < reps; i++) {
        run(docker, ['builder', 'prune', '-af'], { env });
        d.fresh.push(await measure(() => dockerBuild(second)));
        // The warm daemon ran the first build (and its mount) just before.
        run(docker, ['builder', 'prune', '-af'], { env });
        const firstRun = await measure(() => dockerBuild(first));
        if (i === 0) results.dockerFirst = firstRun;
        d.warm.push(await measure(() => dockerBuild(second)));
      }
      results.docker = d;
      results.dockerWhere = daemon.where;
    } finally {
      await daemon.stop();
    }
  }
} finally {
  await registry.stop();
  rmSync(work, { recursive: true, force: true });
}

const cell = (runs) => {
  if (!runs) return '-';
  const ms = median(runs.map((r) => r.ms));
  return `${(ms / 1000).toFixed(2)} s, ${median(runs.map((r) => r.tarballs))} tarballs`;
};
console.log(`Cache-mount benchmark: RUN --mount=type=cache,target=/root/.npm npm ci, second CI run after one dependency was added (${packages} packages, registry delay ${delayMs} ms); median of ${reps}`);
console.log(`first run (empty npm cache): kiln ${cell([results.kilnFirst])}; docker ${cell(results.dockerFirst && [results.dockerFirst])}`);
if (results.docker) console.log(`docker side: ${results.dockerWhere}`);
else console.log('(docker side skipped: no daemon answered and none could be started; or BENCH_SKIP_DOCKER)');
console.log(`second run  kiln, cache mounts carried: ${cell(results.kiln.carried)}`);
console.log(`            kiln, no cache mounts:      ${cell(results.kiln.none)}`);
console.log(`            docker, fresh runner:       ${cell(results.docker?.fresh)}`);
console.log(`            docker, warm daemon:        ${cell(results.docker?.warm)}`);
const ratio = (d, k) => (d && k ? `${(median(d.map((r) => r.ms)) / median(k.map((r) => r.ms))).toFixed(1)}x` : '-');
console.log(`ratio (docker/kiln carried): fresh runner ${ratio(results.docker?.fresh, results.kiln.carried)}, warm daemon ${ratio(results.docker?.warm, results.kiln.carried)}`);
