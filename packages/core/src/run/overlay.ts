// The RUN rootfs: an overlay of the image's unpacked layers (read-only lower directories, shared
// by every build) with a fresh upper directory that collects what the command changes.

import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { KilnError } from '../errors.js';
import { idMapping } from './user-namespace.js';

/** mount(2) takes the options in one page; leave room as containerd does. */
const MAX_OPTIONS = 4096 - 512;

function exec(cmd: string, args: string[], cwd?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd }, (err, _stdout, stderr) => {
      if (err) reject(new KilnError(`${cmd} ${args.join(' ')} failed: ${String(stderr).trim() || err.message}`));
      else resolve();
    });
  });
}

export interface OverlayLayout {
  /** The directory the lower directory names are relative to (keeps the options short). */
  lowerRoot: string;
  /** Names of the lower directories under lowerRoot, topmost first. */
  lowers: string[];
  upper: string;
  work: string;
  target: string;
}

/**
 * Mount the overlay. `mount` runs with its working directory at lowerRoot so the lower
 * directories are named relatively; index=off avoids EBUSY when a directory serves two mounts,
 * redirect_dir=nofollow and metacopy=off keep every change a full copy in the upper directory
 * (nofollow, not off: off means follow where the module always follows redirects, and a user
 * namespace may not mount an overlay that follows them). In a user namespace (rootless) overlayfs
 * keeps its own marks in user.overlay.* xattrs (userxattr, Linux 5.11+): without them it cannot
 * mark a new directory, and renaming one fails with EXDEV (dpkg fails to unpack).
 */
export async function mountOverlay(o: OverlayLayout): Promise<void> {
  if (o.lowers.length === 0) throw new KilnError('an overlay needs at least one lower directory');
  const xattrs = idMapping().inUserNamespace ? ',userxattr' : '';
  const options = `lowerdir=${o.lowers.join(':')},upperdir=${o.upper},workdir=${o.work},index=off,redirect_dir=nofollow,metacopy=off${xattrs}`;
  if (options.length + ',volatile'.length > MAX_OPTIONS) {
    throw new KilnError(`the image has too many layers (${o.lowers.length}) for one overlay mount; squash some layers of the base image`);
  }
  // volatile (Linux 5.10+): no sync of the upper directory on unmount. The upper is thrown away
  // after the layer is made from it, so durability there buys nothing and costs the unmount a
  // write-back of everything the step wrote.
  if (volatileWorks !== false) {
    try {
      await exec('mount', ['-t', 'overlay', 'overlay', '-o', `${options},volatile`, o.target], o.lowerRoot);
      volatileWorks = true;
      return;
    } catch (err) {
      if (volatileWorks) throw err;
      volatileWorks = false;
    }
  }
  await exec('mount', ['-t', 'overlay', 'overlay', '-o', options, o.target], o.lowerRoot);
}

let volatileWorks: boolean | undefined;

/** A tmpfs at `target` (memory only: what is written there never reaches a disk). */
export async function mountTmpfs(target: string, options: string): Promise<void> {
  await exec('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', target]);
}

/**
 * Unmount. `lazy` detaches at once and lets the kernel finish in the background (an overlay's
 * unmount otherwise waits for the upper filesystem to write back what the step wrote, which the
 * layer reads from the page cache anyway); a busy mount (a process of a killed container still
 * holding it for a moment) is detached lazily too.
 */
export async function unmount(target: string, options: { lazy?: boolean } = {}): Promise<void> {
  if (options.lazy) return exec('umount', ['-l', target]);
  try {
    await exec('umount', [target]);
  } catch {
    await exec('umount', ['-l', target]);
  }
}

/** Mount points at or below `dir` (from /proc/self/mountinfo), deepest first. */
export async function mountsBelow(dir: string): Promise<string[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  return info
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((p): p is string => !!p)
    .map((p) => p.replace(/\\(\d{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((p) => p === dir || p.startsWith(prefix))
    .sort((a, b) => b.length - a.length);
}
