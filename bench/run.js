// RUN benchmark: a Debian-based app (COPY of the package files, a RUN, COPY of the sources) built
// by Kiln and by `docker build` in the same run, on a local Debian 12 base that both already have:
//   cold       the base present, no build cache (Kiln: a fresh store with the base loaded;
//              docker: `docker builder prune -af`, the base image kept)
//   coldUnpacked  the same, with the base's layers already unpacked for RUN in the Kiln store (as
//              `docker load` leaves them extracted in the daemon): compared with docker's cold
//   noChange   the same build again
//   oneFile    one source file changed (it is copied below the RUN, so the RUN stays cached)
// Each phase is run BENCH_REPS times (default 3) per tool; the medians and docker/kiln ratios are
// printed, with Kiln's peak RSS (/usr/bin/time).
//
// The base is the rootfs that scripts/make-test-debian-rootfs.sh caches for the tests
// (/var/cache/kiln-test/debian-bookworm-minbase.tar; KILN_TEST_DEBIAN_ROOTFS or KILN_TEST_CACHE_DIR
// elsewhere), as a docker-archive with a fixed config: `kiln load` and `docker load` of the same
// file. The docker side uses DOCKER_HOST (or /var/run/docker.sock) when a daemon answers there,
// else a private dockerd started for the run (as the tests do: its own /tmp directory, no bridge,
// no iptables) and stopped at the end. Both build with the host network. RUN needs root.
//
// Run: npm run build && node bench/run.js      (BENCH_REPS=5, BENCH_SKIP_KILN=1, BENCH_SKIP_DOCKER=1)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { changeOneFile, debianRootfsTar, docker, dockerDaemon, generateContext, kilnBin, run, time, writeDebianBaseArchive } from './lib.js';

const reps = Number(process.env.BENCH_REPS ?? 3);
const flag = (v) => v !== undefined && !['', '0', 'false', 'no'].includes(v.toLowerCase());
const BASE = 'kiln-bench/debian:bookworm';
const APP = 'kiln-bench/run-app:1';
if (!existsSync(debianRootfsTar)) {
  console.error(`bench/run.js: no Debian base rootfs at ${debianRootfsTar}; make it once, as root: bash scripts/make-test-debian-rootfs.sh`);
  process.exit(1);
}
if (process.getuid?.() !== 0) console.warn('bench/run.js: not root: Kiln\'s RUN needs root, expect its side to fail');

const work = mkdtempSync(join(tmpdir(), 'kiln-bench-run-'));
// Kiln talks to no registry here: the base comes from the store.
const kilnEnv = { ...process.env, KILN_OFFLINE: '1' };

// --- the app ---
const ctx = join(work, 'ctx');
generateContext(ctx); // src/: 2,000 files / 20 MB; deps/: 500 files / 5 MB; package.json
writeFileSync(join(ctx, 'package-lock.json'), '{"name":"bench","lockfileVersion":3}\n');
writeFileSync(join(ctx, 'Dockerfile'), [
  `FROM ${BASE}`,
  'WORKDIR /app',
  'COPY package.json package-lock.json ./',
  'COPY deps/ ./deps/',
  '# "Install" the dependencies: copy them into place, checksum them, make a user own the app.',
  'RUN useradd --create-home --uid 1000 app \\',
  ' && mkdir -p /app/node_modules && cp -r /app/deps/. /app/node_modules/ \\',
  ' && find /app/node_modules -type f | sort | xargs sha256sum > /app/manifest.sha256 \\',
  ' && chown -R app:app /app',
  'COPY src/ ./src/',
  'USER app',
  'CMD ["bash"]',
  '',
].join('\n'));

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
let edits = 0;
const changeSource = () => changeOneFile(ctx, ++edits); // src/pkg7/file7.js: copied after the RUN

const results = {};
let peakKb = 0;
const baseArchive = join(work, 'base.tar');
const baseId = await writeDebianBaseArchive(baseArchive, BASE, join(work, 'base-archive'));

try {
  if (!flag(process.env.BENCH_SKIP_KILN)) {
    let store;
    const kilnBuild = () => {
      let r;
      const ms = time(() => {
        r = spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, kilnBin, 'build', '--store', store, '-q', '-t', APP, ctx], {
          encoding: 'utf8', env: kilnEnv, maxBuffer: 64 << 20,
        });
      });
      if (r.status !== 0) throw new Error(`kiln build failed:\n${r.stderr}`);
      peakKb = Math.max(peakKb, Number(r.stderr.trim().split('\n').pop()));
      return ms;
    };
    const k = { cold: [], coldUnpacked: [], noChange: [], oneFile: [] };
    // A throwaway build over the base: its layers unpacked for RUN and its index kept, as
    // `docker load` leaves a base extracted in the daemon.
    const warm = join(work, 'warm');
    mkdirSync(warm, { recursive: true });
    writeFileSync(join(warm, 'Dockerfile'), `FROM ${BASE}\nRUN true\n`);
    try {
      for (let i = 0; i < reps; i++) {
        store = join(work, `kiln-store-${i}`);
        run(process.execPath, [kilnBin, 'load', '--store', store, '-q', '-i', baseArchive], { env: kilnEnv });
        k.cold.push(kilnBuild());
      }
      for (let i = 0; i < reps; i++) {
        store = join(work, `kiln-store-unpacked-${i}`);
        run(process.execPath, [kilnBin, 'load', '--store', store, '-q', '-i', baseArchive], { env: kilnEnv });
        run(process.execPath, [kilnBin, 'build', '--store', store, '-q', warm], { env: kilnEnv });
        k.coldUnpacked.push(kilnBuild());
      }
      for (let i = 0; i < reps; i++) k.noChange.push(kilnBuild());
      for (let i = 0; i < reps; i++) {
        changeSource();
        k.oneFile.push(kilnBuild());
      }
      results.kiln = k;
    } catch (err) {
      // Still time docker (e.g. before Kiln's RUN is built); the run fails at the end.
      results.kilnError = err.message.trim().split('\n').slice(-3).join('\n  ');
    }
  }

  const daemon = flag(process.env.BENCH_SKIP_DOCKER) ? undefined : await dockerDaemon();
  if (daemon) {
    try {
      const env = daemon.env;
      run(docker, ['load', '-q', '-i', baseArchive], { env });
      const loadedId = run(docker, ['image', 'inspect', '--format', '{{.Id}}', BASE], { env }).trim();
      if (loadedId !== baseId) throw new Error(`docker load gave ${BASE} the ID ${loadedId}, not ${baseId}`);
      const dockerBuild = () => time(() => run(docker, ['build', '-q', '--network=host', '-t', APP, ctx], { env }));
      const d = { cold: [], noChange: [], oneFile: [] };
      for (let i = 0; i < reps; i++) {
        spawnSync(docker, ['rmi', '-f', APP], { env });
        run(docker, ['builder', 'prune', '-af'], { env });
        d.cold.push(dockerBuild());
      }
      for (let i = 0; i < reps; i++) d.noChange.push(dockerBuild());
      for (let i = 0; i < reps; i++) {
        changeSource();
        d.oneFile.push(dockerBuild());
      }
      results.docker = d;
      results.dockerWhere = daemon.where;
    } finally {
      await daemon.stop();
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

const fmt = (ms) => (ms === undefined ? '-' : `${(ms / 1000).toFixed(2)} s`);
console.log(`RUN benchmark: Debian 12 base, COPY package files + 500 files / 5 MB of deps, RUN (useradd, copy, sha256sum, chown -R), COPY 2,000 source files / 20 MB; median of ${reps}`);
if (!results.docker) console.log('(docker side skipped: no daemon answered and none could be started; or BENCH_SKIP_DOCKER)');
else console.log(`docker side: ${results.dockerWhere}`);
console.log('phase            kiln    docker build   ratio (docker/kiln)');
for (const phase of ['cold', 'coldUnpacked', 'noChange', 'oneFile']) {
  const k = results.kiln ? median(results.kiln[phase]) : undefined;
  // Docker's cold build starts from a base `docker load` already extracted: both Kiln rows compare with it.
  const d = results.docker ? median(results.docker[phase === 'coldUnpacked' ? 'cold' : phase]) : undefined;
  const ratio = k !== undefined && d !== undefined ? `${(d / k).toFixed(1)}x` : '-';
  console.log(`${phase.padEnd(10)} ${fmt(k).padStart(9)}   ${fmt(d).padStart(12)}   ${ratio.padStart(8)}`);
}
if (results.kiln) console.log(`kiln peak RSS (largest of all its builds above): ${(peakKb / 1024).toFixed(0)} MB`);
if (results.kilnError) {
  console.log(`kiln side failed:\n  ${results.kilnError}`);
  process.exitCode = 1;
}
