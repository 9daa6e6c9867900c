// The diff of an overlay upper directory against its lower layers, as layer entries: what a RUN
// step changed. The rules are BuildKit's overlay differ's (walk the upper, skip unchanged
// copy-ups, whiteouts only for what exists below), adapted to what Node can see:
//
// - Node cannot read extended attributes, so opaque directories (trusted.overlay.opaque=y) are
//   found through the still-mounted merged view instead: every lower child of a directory that
//   the merged view no longer lists gets its own `.wh.<name>` (BuildKit writes per-entry
//   whiteouts for opaque directories too; no `.wh..wh..opq` is written).
// - For the same reason file capabilities (security.capability) come from the caller
//   (run/capabilities.ts reads them with host tools): a file that has one is always written, even
//   a copy-up whose content and metadata did not change (setcap changes nothing else). A
//   capability removed from a lower file (`setcap -r`) is not seen.
// - The overlay must be mounted with redirect_dir=nofollow (or off) and metacopy=off: a redirected directory or
//   a metadata-only copy-up (no data in the upper) cannot be recognised without xattrs.

import { lstat, open, readdir, readlink } from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { LayerEntryError, WHITEOUT_PREFIX, comparePaths, parentPath } from './entry.js';
import type { EntryType, LayerEntry } from './entry.js';

/** One path of the lower filesystem (an FsIndex entry fits). */
export interface LowerEntry {
  type: EntryType;
  /** Permission bits (compared masked with 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** Symlink: the target. Hardlink: the path of the file it links to. */
  linkTarget?: string;
  size?: number;
  /** Seconds. */
  mtime?: number;
  devMajor?: number;
  devMinor?: number;
}

export interface OverlayDiffInput {
  /** The overlay's upper directory (host path). */
  upperDir: string;
  /** The overlay's mount point, still mounted: shows which lower children a directory hides. */
  mergedDir: string;
  /** The lower directories, topmost first: copied-up files are compared with their lower copy. */
  lowerDirs: readonly string[];
  /** The lower filesystem as one index: relative path ('a/b', no leading '/') -> entry. */
  lower: ReadonlyMap<string, LowerEntry>;
  /**
   * Mount stubs Kiln created (relative paths, e.g. 'etc/resolv.conf', and directories created for
   * them): left out when they did not exist below and are an empty file, or a directory holding
   * nothing but such stubs.
   */
  exclude?: ReadonlySet<string>;
  /**
   * No lower copies to compare with (`lowerDirs` empty): the "upper" is a whole copy of the
   * filesystem the step ran in, unpacked from the layers, and a file whose metadata and whole-second
   * mtime (no nanoseconds, as unpacked) match its lower entry is taken as unchanged.
   */
  wholeCopy?: boolean;
  /** Files of the upper (relative paths) that have file capabilities: the raw security.capability values. */
  capabilities?: ReadonlyMap<string, Uint8Array>;
}

const NS_PER_SECOND = 1_000_000_000n;
/** How many lower links are followed to find the file a lower hardlink entry stands for. */
const MAX_LINK_HOPS = 40;
const COMPARE_CHUNK = 64 * 1024;

/**
 * The entries that turn the lower filesystem into the merged one, sorted by path, ready for
 * `writeLayer`: added and changed paths from the upper (with every ancestor directory, carrying
 * the upper's metadata), `.wh.<name>` for lower paths that are gone, nothing for copy-ups whose
 * metadata and content did not change. Sockets are skipped; hardlinks inside the upper are kept
 * as links; owners are numeric; mtimes are whole seconds (the writer clamps them).
 */
export async function diffOverlayUpper(input: OverlayDiffInput): Promise<LayerEntry[]> {
  const diff = new OverlayDiff(input);
  await diff.walkDir('');
  await diff.finishHardlinks();
  diff.addAncestors();
  return [...diff.out.values()].sort((a, b) => comparePaths(a.path, b.path));
}

interface HardlinkName {
  path: string;
  host: string;
  st: BigIntStats;
  changed: boolean;
}

class OverlayDiff {
  readonly out = new Map<string, LayerEntry>();
  /** Every directory of the upper (relative path -> its entry), for the ancestors. */
  private readonly upperDirs = new Map<string, LayerEntry>();
  /** Regular files with more than one link, by inode. */
  private readonly inodes = new Map<bigint, HardlinkName[]>();
  private lowerChildren: Map<string, string[]> | undefined;

  constructor(private readonly input: OverlayDiffInput) {}

  /** Diff one upper directory's children; returns how many of them are kept (not dropped stubs). */
  async walkDir(dir: string): Promise<number> {
    const { upperDir, lower, exclude } = this.input;
    const names = (await readdir(join(upperDir, dir))).sort(comparePaths);
    const whitedOut = new Set<string>();
    let kept = 0;
    for (const name of names) {
      const path = dir === '' ? name : `${dir}/${name}`;
      const host = join(upperDir, path);
      const st = await lstat(host, { bigint: true }).catch((err: NodeJS.ErrnoException) => {
        // Node reads names as UTF-8: one that is not comes back changed (U+FFFD) and cannot be found.
        if (err.code === 'ENOENT' && name.includes('\uFFFD')) {
          throw new LayerEntryError(`a file name in /${dir} is not valid UTF-8 (${JSON.stringify(name)}): Kiln cannot put it in a layer yet; rename it in the step`);
        }
        throw err;
      });
      if (st.isSocket()) {
        kept++;
        continue;
      }
      if (st.isCharacterDevice() && st.rdev === 0n) {
        kept++;
        whitedOut.add(name);
        if (lower.has(path)) this.whiteout(dir, name);
        continue;
      }
      const stub = exclude?.has(path) === true && !lower.has(path);
      if (st.isDirectory()) {
        const entry = dirEntry(path, st);
        this.upperDirs.set(path, entry);
        const children = await this.walkDir(path);
        if (stub && children === 0) continue;
        kept++;
        const below = lower.get(path);
        if (below?.type !== 'dir' || (below.mode & 0o7777) !== entry.mode || below.uid !== entry.uid || below.gid !== entry.gid) {
          this.emit(entry);
        }
        continue;
      }
      if (stub && st.isFile() && st.size === 0n) continue;
      kept++;
      const capability = st.isFile() ? this.input.capabilities?.get(path) : undefined;
      const changed = capability !== undefined || !(await this.unchanged(path, host, st));
      if (st.isFile() && st.nlink > 1n) {
        const links = this.inodes.get(st.ino) ?? [];
        links.push({ path, host, st, changed });
        this.inodes.set(st.ino, links);
      } else if (changed) {
        this.emit(await nonDirEntry(path, host, st, capability));
      }
    }
    await this.hiddenLowerChildren(dir, whitedOut);
    return kept;
  }

  /**
   * A lower directory kept in the upper: its lower children that the merged view no longer shows
   * (an opaque directory hides them all) and that no whiteout in the upper names already.
   */
  private async hiddenLowerChildren(dir: string, whitedOut: ReadonlySet<string>): Promise<void> {
    if (dir !== '' && this.input.lower.get(dir)?.type !== 'dir') return;
    const children = this.lowerChildrenOf(dir);
    if (children.length === 0) return;
    const visible = new Set(await readdir(join(this.input.mergedDir, dir)));
    for (const name of children) {
      if (!visible.has(name) && !whitedOut.has(name)) this.whiteout(dir, name);
    }
  }

  private lowerChildrenOf(dir: string): string[] {
    if (!this.lowerChildren) {
      this.lowerChildren = new Map();
      for (const path of this.input.lower.keys()) {
        if (path === '') continue;
        const parent = parentPath(path);
        const kids = this.lowerChildren.get(parent) ?? [];
        kids.push(path.slice(parent === '' ? 0 : parent.length + 1));
        this.lowerChildren.set(parent, kids);
      }
    }
    return this.lowerChildren.get(dir) ?? [];
  }

  private whiteout(dir: string, name: string): void {
    const path = `${dir === '' ? '' : `${dir}/`}${WHITEOUT_PREFIX}${name}`;
    this.out.set(path, { path, type: 'file', mode: 0, uid: 0, gid: 0, mtime: 0 });
  }

  private emit(entry: LayerEntry): void {
    const name = entry.path.slice(entry.path.lastIndexOf('/') + 1);
    if (name.startsWith(WHITEOUT_PREFIX)) {
      throw new LayerEntryError(
        `/${entry.path} was written by the step, but a layer cannot hold a name starting with "${WHITEOUT_PREFIX}" ` +
          '(it would be read as a whiteout that deletes a file); rename it',
      );
    }
    this.out.set(entry.path, entry);
  }

  /**
   * Whether a non-directory of the upper is a copy-up that changed nothing (BuildKit's sameDirent):
   * the same type, permission bits, owner, size, symlink target and device numbers as below, and
   * exactly the mtime of its lower copy; when that mtime has no nanoseconds (as unpacked from a tar),
   * a rewrite in the same second cannot be told from it, so the contents are compared too.
   */
  private async unchanged(path: string, host: string, st: BigIntStats): Promise<boolean> {
    const below = this.lowerFile(path);
    const type = upperType(st);
    if (!below || below.type !== type) return false;
    if ((below.mode & 0o7777) !== modeBits(st) || below.uid !== Number(st.uid) || below.gid !== Number(st.gid)) return false;
    if (below.mtime !== undefined && Math.floor(below.mtime) !== seconds(st)) return false;
    if (type === 'file' && (below.size ?? 0) !== Number(st.size)) return false;
    if (type === 'symlink' && below.linkTarget !== (await readlink(host))) return false;
    if (type === 'char' || type === 'block') {
      const { major, minor } = deviceNumbers(st.rdev);
      if ((below.devMajor ?? 0) !== major || (below.devMinor ?? 0) !== minor) return false;
    }
    const copy = await this.lowerCopy(path);
    if (!copy && this.input.wholeCopy) return st.mtimeNs % NS_PER_SECOND === 0n;
    if (!copy || upperType(copy.st) !== type || copy.st.mtimeNs !== st.mtimeNs) return false;
    if (st.mtimeNs % NS_PER_SECOND !== 0n) return true;
    if (type === 'file') return sameContent(host, copy.host, Number(st.size));
    if (type === 'symlink') return (await readlink(copy.host)) === (await readlink(host));
    return true;
  }

  /** The lower entry at `path`, a lower hardlink resolved to the file it stands for. */
  private lowerFile(path: string): LowerEntry | undefined {
    let entry = this.input.lower.get(path);
    for (let hops = 0; entry?.type === 'hardlink' && hops < MAX_LINK_HOPS; hops++) {
      entry = entry.linkTarget === undefined ? undefined : this.input.lower.get(entry.linkTarget);
    }
    return entry?.type === 'hardlink' ? undefined : entry;
  }

  /** The visible lower copy of `path`: the first lower directory (topmost first) that has it. */
  private async lowerCopy(path: string): Promise<{ host: string; st: BigIntStats } | undefined> {
    for (const dir of this.input.lowerDirs) {
      const host = join(dir, path);
      try {
        return { host, st: await lstat(host, { bigint: true }) };
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
      }
    }
    return undefined;
  }

  /**
   * Regular files with several links: when any name of an inode is new or changed, every name is
   * written (the first in path order as the file, the others as hardlinks to it), so the link
   * survives; otherwise none is.
   */
  async finishHardlinks(): Promise<void> {
    for (const names of this.inodes.values()) {
      if (!names.some((n) => n.changed)) continue;
      names.sort((a, b) => comparePaths(a.path, b.path));
      const first = names[0]!;
      this.emit(await nonDirEntry(first.path, first.host, first.st, this.input.capabilities?.get(first.path)));
      for (const n of names.slice(1)) {
        this.emit({ ...ownerAndTime(n.st), path: n.path, type: 'hardlink', linkTarget: first.path });
      }
    }
  }

  /** Every entry gets its ancestor directories, with the metadata they have in the upper. */
  addAncestors(): void {
    for (const path of [...this.out.keys()]) {
      for (let dir = parentPath(path); dir !== '' && !this.out.has(dir); dir = parentPath(dir)) {
        const entry = this.upperDirs.get(dir);
        if (!entry) throw new Error(`overlay diff: the parent directory of /${path} is not in the upper`);
        this.out.set(dir, entry);
      }
    }
  }
}

function upperType(st: BigIntStats): EntryType | undefined {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isFIFO()) return 'fifo';
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  return undefined;
}

function modeBits(st: BigIntStats): number {
  return Number(st.mode & 0o7777n);
}

/** Whole seconds of the mtime (floored). */
function seconds(st: BigIntStats): number {
  let s = st.mtimeNs / NS_PER_SECOND;
  if (st.mtimeNs % NS_PER_SECOND < 0n) s -= 1n;
  return Number(s);
}

function ownerAndTime(st: BigIntStats): Pick<LayerEntry, 'mode' | 'uid' | 'gid' | 'mtime'> {
  return { mode: modeBits(st), uid: Number(st.uid), gid: Number(st.gid), mtime: seconds(st) };
}

function dirEntry(path: string, st: BigIntStats): LayerEntry {
  return { ...ownerAndTime(st), path, type: 'dir' };
}

async function nonDirEntry(path: string, host: string, st: BigIntStats, capability?: Uint8Array): Promise<LayerEntry> {
  const base = ownerAndTime(st);
  const type = upperType(st);
  switch (type) {
    case 'file':
      return { ...base, path, type, size: Number(st.size), content: { path: host }, ...(capability ? { capability } : {}) };
    case 'symlink':
      return { ...base, path, type, linkTarget: await readlink(host) };
    case 'char':
    case 'block': {
      const { major, minor } = deviceNumbers(st.rdev);
      return { ...base, path, type, devMajor: major, devMinor: minor };
    }
    case 'fifo':
      return { ...base, path, type };
    default:
      throw new Error(`overlay diff: /${path} has an unexpected file type (mode ${st.mode.toString(8)})`);
  }
}

/** Linux's dev_t encoding (glibc gnu_dev_major / gnu_dev_minor). */
function deviceNumbers(rdev: bigint): { major: number; minor: number } {
  return {
    major: Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn)),
    minor: Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn)),
  };
}

/** Whether two files of `size` bytes have the same bytes. */
async function sameContent(a: string, b: string, size: number): Promise<boolean> {
  if (size === 0) return true;
  const fa = await open(a, 'r');
  try {
    const fb = await open(b, 'r');
    try {
      const ba = Buffer.allocUnsafe(COMPARE_CHUNK);
      const bb = Buffer.allocUnsafe(COMPARE_CHUNK);
      for (let position = 0; position < size; ) {
        const want = Math.min(COMPARE_CHUNK, size - position);
        const [ra, rb] = await Promise.all([readFully(fa, ba, want, position), readFully(fb, bb, want, position)]);
        if (ra !== want || rb !== want || !ba.subarray(0, want).equals(bb.subarray(0, want))) return false;
        position += want;
      }
      return true;
    } finally {
      await fb.close();
    }
  } finally {
    await fa.close();
  }
}

async function readFully(fh: FileHandle, buf: Buffer, want: number, position: number): Promise<number> {
  let filled = 0;
  while (filled < want) {
    const { bytesRead } = await fh.read(buf, filled, want - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled;
}
