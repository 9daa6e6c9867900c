// Registry-base benchmark: a CI machine builds and pushes a COPY-only app (the build benchmark's
// context: 2,000 files / 20 MB + 5 MB of deps) on a 120 MB base that lives in the registry (a
// Debian 12 `debootstrap --variant=minbase` rootfs, pushed there first). Timed, with Kiln and
// with docker build + docker push in the same run (medians of 3):
//   - empty: a machine with an empty store (a fresh Kiln store; docker with the base image and
//     its build cache removed), build + push;
//   - one file: one source file changed, same machine after the build before (warm store, warm
//     daemon), build + push.
//   - CI with a registry cache: each run on an empty machine, one source file changed since the
//     run before, the build cache imported from and exported to the registry (Kiln:
//     --cache-from/--cache-to type=registry; docker: --cache-from the last pushed image, built
//     with BUILDKIT_INLINE_CACHE=1), build + push.
// Kiln builds the Dockerfile twice, with plain COPY (the base's files are read: its layer is
// downloaded once, unless the cache brought the base's filesystem index) and with COPY --link
// (nothing reads the base: no byte of it is downloaded, and the push mounts it). Docker 20.10's
// built-in frontend has no --link, so docker builds the plain one. The registry's access log
// counts the base layer's downloads.
//
// Run (as root, after `bash scripts/install-test-deps.sh` made the Debian rootfs):
//   npm run build && node bench/registry-base.js
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { changeOneFile, debianRootfsTar, dockerDaemon, generateContext, kilnBin, run, startLocalRegistry, time, writeDebianBaseArchive } from './lib.js';

if (!existsSync(debianRootfsTar)) {
  console.log(`skipped: no Debian rootfs at ${debianRootfsTar} (bash scripts/install-test-deps.sh makes it)`);
  process.exit(0);
}

const work = mkdtempSync(join(tmpdir(), 'kiln-bench-regbase-'));
const registry = await startLocalRegistry(join(work, 'registry'), { accessLog: join(work, 'access.log') });
const host = registry.host;
const daemon = await dockerDaemon();
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const kiln = (args) => run(process.execPath, [kilnBin, ...args]);

try {
  // The base, in the registry: loaded into a setup store and pushed (gzip, as any base is).
  const base = `${host}/base/debian:12`;
  await writeDebianBaseArchive(join(work, 'base.tar'), base, join(work, 'base-staging'));
  kiln(['load', '--store', join(work, 'setup-store'), '-q', '-i', join(work, 'base.tar')]);
  kiln(['push', '--store', join(work, 'setup-store'), '-q', base]);
  const baseLayer = JSON.parse(run('skopeo', ['inspect', '--tls-verify=false', '--raw', `docker://${base}`])).layers[0];
  // From any repository: a registry serves the blob under every repository that holds it (docker's
  // --cache-from image names the app's).
  const baseGets = () => readFileSync(join(work, 'access.log'), 'utf8').split('\n').filter((l) => new RegExp(`GET /v2/\\S+/blobs/${baseLayer.digest}`).test(l)).length;

  const ctx = join(work, 'ctx');
  generateContext(ctx);
  const dockerfile = (link) =>
    `FROM ${base}\nCOPY ${link}package.json /app/\nCOPY ${link}deps/ /app/deps/\nCOPY ${link}src/ /app/src/\nENV APP_HOME=/app\nCMD ["/bin/sh"]\n`;
  writeFileSync(join(ctx, 'Plain.Dockerfile'), dockerfile(''));
  writeFileSync(join(ctx, 'Link.Dockerfile'), dockerfile('--link '));
  writeFileSync(join(ctx, '.dockerignore'), '*.Dockerfile\n');

  const results = {};
  let edit = 0;
  for (const variant of ['Plain', 'Link']) {
    const image = `${host}/app/kiln-${variant.toLowerCase()}:1`;
    const buildPush = (store) => time(() => kiln(['build', '--store', store, '-q', '-f', join(ctx, `${variant}.Dockerfile`), '-t', image, '--push', ctx]));
    const empty = [];
    const downloads = [];
    for (let i = 0; i < 3; i++) {
      const store = join(work, `kiln-${variant}-${i}`);
      const before = baseGets();
      empty.push(buildPush(store));
      downloads.push(baseGets() - before);
      if (i < 2) rmSync(store, { recursive: true, force: true });
    }
    const oneFile = [];
    for (let i = 0; i < 3; i++) {
      changeOneFile(ctx, ++edit);
      oneFile.push(buildPush(join(work, `kiln-${variant}-2`)));
    }
    // CI: a fresh store every run, the registry cache of the run before.
    const cache = `${host}/cache/kiln-${variant.toLowerCase()}:buildcache`;
    const ciRun = (i) => {
      changeOneFile(ctx, ++edit);
      const store = join(work, `kiln-${variant}-ci-${i}`);
      const before = baseGets();
      const ms = time(() => kiln(['build', '--store', store, '-q', '-f', join(ctx, `${variant}.Dockerfile`), '-t', image, '--cache-from', `type=registry,ref=${cache}`, '--cache-to', `type=registry,ref=${cache}`, '--push', ctx]));
      rmSync(store, { recursive: true, force: true });
      return { ms, downloads: baseGets() - before };
    };
    ciRun('seed');
    const ci = [0, 1, 2].map(ciRun);
    results[`kiln, COPY${variant === 'Link' ? ' --link' : ''}`] = {
      empty: median(empty), oneFile: median(oneFile), downloads: median(downloads),
      ci: median(ci.map((r) => r.ms)), ciDownloads: median(ci.map((r) => r.downloads)),
    };
  }

  if (daemon) {
    const docker = (args) => run('/usr/bin/docker', args, { env: daemon.env });
    const image = `${host}/app/docker:1`;
    const buildPush = () => time(() => {
      docker(['build', '-q', '-f', join(ctx, 'Plain.Dockerfile'), '-t', image, ctx]);
      docker(['push', '-q', image]);
    });
    const empty = [];
    const downloads = [];
    for (let i = 0; i < 3; i++) {
      // An empty daemon: no image (another image holding the base's layer would spare its download) and no build cache.
      spawnSync('/usr/bin/docker', ['rmi', '-f', image, base], { env: daemon.env });
      spawnSync('/usr/bin/docker', ['system', 'prune', '-af'], { env: daemon.env });
      const before = baseGets();
      empty.push(buildPush());
      downloads.push(baseGets() - before);
    }
    const oneFile = [];
    for (let i = 0; i < 3; i++) {
      changeOneFile(ctx, ++edit);
      oneFile.push(buildPush());
    }
    // CI: an empty daemon every run, the inline cache of the image the run before pushed.
    const ciRun = () => {
      changeOneFile(ctx, ++edit);
      spawnSync('/usr/bin/docker', ['rmi', '-f', image, base], { env: daemon.env });
      spawnSync('/usr/bin/docker', ['system', 'prune', '-af'], { env: daemon.env });
      const before = baseGets();
      const ms = time(() => {
        docker(['build', '-q', '--build-arg', 'BUILDKIT_INLINE_CACHE=1', '--cache-from', image, '-f', join(ctx, 'Plain.Dockerfile'), '-t', image, ctx]);
        docker(['push', '-q', image]);
      });
      return { ms, downloads: baseGets() - before };
    };
    ciRun();
    const ci = [0, 1, 2].map(ciRun);
    results['docker build + push'] = {
      empty: median(empty), oneFile: median(oneFile), downloads: median(downloads),
      ci: median(ci.map((r) => r.ms)), ciDownloads: median(ci.map((r) => r.downloads)),
    };
    await daemon.stop();
  }

  const fmt = (ms) => `${(ms / 1000).toFixed(2)} s`;
  const dockerRow = results['docker build + push'];
  console.log(`COPY-only app (2,000 files / 20 MB + 5 MB deps) on a ${(baseLayer.size / 1e6).toFixed(0)} MB (gzip) Debian base in a registry on 127.0.0.1; build + push, medians of 3`);
  console.log('                        empty store   base downloads   one file changed   CI: empty store + registry cache, one file changed (base downloads)');
  for (const [name, r] of Object.entries(results)) {
    const ratio = (phase) => (dockerRow && name !== 'docker build + push' ? ` (${(dockerRow[phase] / r[phase]).toFixed(1)}x)` : '');
    console.log(
      `${name.padEnd(24)}${(fmt(r.empty) + ratio('empty')).padEnd(14)}${String(r.downloads).padStart(8)}         ${(fmt(r.oneFile) + ratio('oneFile')).padEnd(19)}` +
        `${fmt(r.ci)}${ratio('ci')} (${r.ciDownloads})`,
    );
  }
} finally {
  await registry.stop();
  rmSync(work, { recursive: true, force: true });
}
