// Finding the dockerd binary, and stopping a private dockerd that the test helpers started
// (helpers/dockerd.ts), by its PID and its private root directory. Plain JavaScript because
// jest.global-teardown.js, which jest loads outside the TypeScript transform, stops the dockerd
// shared by a whole run with it too, and bench/run.js starts one the same way.
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The dockerd binary: $KILN_TEST_DOCKERD or the usual places; undefined when there is none. */
export function findDockerd() {
  for (const c of [process.env.KILN_TEST_DOCKERD, '/usr/sbin/dockerd', '/usr/bin/dockerd', '/usr/local/bin/dockerd']) {
    if (!c) continue;
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      /* next */
    }
  }
  return undefined;
}

/** Whether `pid` is a live process (a zombie, exited but not yet reaped, counts as gone). */
export function isRunning(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Whether `pid` runs with `root` on its command line (a daemon of ours, not a reused PID). */
export function runsUnder(pid, root) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(root);
  } catch {
    return false;
  }
}

async function terminate(pid, root, graceMs) {
  if (!(pid > 1) || !isRunning(pid) || !runsUnder(pid, root)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  for (const deadline = Date.now() + graceMs; isRunning(pid) && Date.now() < deadline; ) await sleep(100);
  if (isRunning(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
    for (let i = 0; i < 50 && isRunning(pid); i++) await sleep(100);
  }
}

/** Mount points at or below dir, deepest first. */
function mountsUnder(dir) {
  let info;
  try {
    info = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const points = info
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((p) => !!p)
    .map((p) => p.replace(/\\040/g, ' '))
    .filter((p) => p === dir || p.startsWith(dir + '/'));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

/**
 * SIGTERMs the dockerd (SIGKILL after 30 s), then the containerd it started if that is still
 * there (its pidfile is under root), unmounts leftovers and removes root. Only processes whose
 * command line names root are signalled.
 */
export async function stopDockerdAt({ pid, root }) {
  await terminate(pid, root, 30_000);
  const ctrPidFile = join(root, 'exec', 'containerd', 'containerd.pid');
  if (existsSync(ctrPidFile)) await terminate(Number(readFileSync(ctrPidFile, 'utf8').trim()), root, 5_000);
  for (const m of mountsUnder(root)) spawnSync('umount', ['-l', m]);
  await rm(root, { recursive: true, force: true, maxRetries: 3 });
}
