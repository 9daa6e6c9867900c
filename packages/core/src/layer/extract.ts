// Safe extraction of layers (with whiteouts) and of local archives (Dockerfile ADD) onto a directory.
//
// Safety model: every entry path is cleaned lexically and refused when it climbs out of the root;
// absolute paths are taken relative to the root. The parent directory of every entry is resolved
// component by component with lstat, inside the root: a symlink met on the way is followed as if
// the root were '/' (an absolute target restarts at the root, '..' stops at the root), so nothing
// is ever written through a symlink to outside the root. The last component is never followed
// (existing entries are removed first, files are created with O_EXCL|O_NOFOLLOW). Hardlink targets
// are resolved the same way and must already exist inside the root.

import { execFile } from 'node:child_process';
import { constants as fsc, createReadStream } from 'node:fs';
import {
  link,
  lchown,
  lstat,
  lutimes,
  mkdir,
  open,
  readdir,
  readlink,
  rm,
  symlink,
} from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { Header } from 'tar';
import { decompress, sniffFileCompression } from '../archive/compression.js';
import { KilnError } from '../errors.js';
import type { LayerCompression } from '../oci/media-types.js';
import {
  LayerEntryError,
  OPAQUE_WHITEOUT,
  WHITEOUT_PREFIX,
  baseName,
  cleanArchivePath,
  parentPath,
} from './entry.js';
import type { LayerEntry } from './entry.js';
import { readLayer, readTar } from './reader.js';
import type { TarHeader } from './reader.js';

export interface ExtractOptions {
  /** chown entries to their uid/gid. Default: when running as root. */
  sameOwner?: boolean;
  /** Create character and block devices (needs root). Default: when running as root; else skipped. */
  devices?: boolean;
  /**
   * 'apply' (default): whiteouts delete what they name on the root. 'overlay': the root is one
   * layer's own directory, an overlayfs lower: `.wh.name` becomes overlayfs's whiteout (a 0/0
   * character device named `name`) and opaque directories are reported in `opaqueDirs` for the
   * caller to white out the lower names in (Node cannot set the opaque xattr). Needs root.
   */
  whiteoutFormat?: 'apply' | 'overlay';
}

export interface ExtractResult {
  /** Entries applied (whiteouts included). */
  entries: number;
  /** Whiteout and opaque-directory markers applied. */
  whiteouts: number;
  /** Entries that were not created, and why (devices without root). */
  skipped: { path: string; reason: string }[];
  /** With whiteoutFormat 'overlay': directories (relative) marked opaque by this layer. */
  opaqueDirs: string[];
}

export interface ExtractArchiveOptions extends ExtractOptions {
  /**
   * The filesystem root symlinks are resolved in (the image's root filesystem); `destDir` must be
   * inside it. Default: `destDir` itself.
   */
  root?: string;
}

/** Raised when an entry would write outside the root. */
export class UnsafeEntryError extends LayerEntryError {}

/**
 * Apply one layer onto `root`: whiteouts (`.wh.name` deletes name, `.wh..wh..opq` hides what lower
 * layers put in the directory), files, directories, symlinks, hardlinks, fifos, devices (root
 * only), modes, owners (root only, unless `sameOwner` says otherwise), mtimes.
 */
export async function extractLayer(
  stream: Readable,
  compression: LayerCompression,
  root: string,
  options: ExtractOptions = {},
): Promise<ExtractResult> {
  const x = new Extractor(resolve(root), '', { ...options, whiteouts: true, record: false, what: 'layer' });
  await readLayer(stream, compression, (h, body) => x.apply(h, body));
  await x.finish();
  return x.result();
}

/**
 * Extract a local archive (Dockerfile `ADD`) into `destDir`. The compression is detected from
 * magic bytes (gzip, bzip2, xz, zstd or none); bzip2 and xz (and zstd before Node.js 22.15) are
 * decompressed by the `bzip2`, `xz` and `zstd` commands. Returns false when the file is not a tar archive (the caller copies it as a
 * file); otherwise what was written, as layer entries relative to `options.root` (default
 * `destDir`), files pointing at their extracted copy. Whiteout names are plain files here, as in
 * Docker. Entries that would escape `destDir` are refused with an UnsafeEntryError.
 */
export async function extractArchive(
  archivePath: string,
  destDir: string,
  options: ExtractArchiveOptions = {},
): Promise<LayerEntry[] | false> {
  const dest = resolve(destDir);
  const root = resolve(options.root ?? destDir);
  const destRelNative = relative(root, dest);
  if (destRelNative === '..' || destRelNative.startsWith(`..${sep}`) || isAbsolute(destRelNative)) {
    throw new KilnError(`extraction directory ${dest} is not inside the root ${root}`);
  }
  const destRel = destRelNative.split(sep).filter((s) => s !== '').join('/');

  const compression = await sniffFileCompression(archivePath);
  const source = decompress(createReadStream(archivePath), compression, { commands: true, what: archivePath });
  const it = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let head = Buffer.alloc(0);
  try {
    while (head.length < 512) {
      const r = await it.next();
      if (r.done) break;
      head = Buffer.concat([head, r.value]);
    }
  } catch {
    // Not decompressible (a file that merely starts with magic bytes): not an archive.
    await it.return?.().catch(() => undefined);
    source.destroy();
    return false;
  }
  if (!looksLikeTar(head)) {
    await it.return?.().catch(() => undefined);
    source.destroy();
    return false;
  }
  const rest = Readable.from(
    (async function* () {
      yield head;
      for (;;) {
        const r = await it.next();
        if (r.done) return;
        yield r.value;
      }
    })(),
    { objectMode: false },
  );

  if (options.root === undefined) await mkdir(root, { recursive: true });
  const x = new Extractor(root, destRel, { ...options, whiteouts: false, record: true, what: archivePath });
  await x.ensureDir(destRel);
  await readTar(rest, (h, body) => x.apply(h, body), { what: `archive ${archivePath}` });
  await x.finish();
  return x.records();
}

function looksLikeTar(head: Buffer): boolean {
  if (head.length < 512) return false;
  try {
    const h = new Header(head.subarray(0, 512));
    return h.cksumValid && !h.nullBlock && !!h.path;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------

interface ExtractorOptions extends ExtractOptions {
  whiteouts: boolean;
  record: boolean;
  what: string;
}

interface ResolvedDir {
  /** Host path of a real directory inside the root. */
  host: string;
  /** The same, relative to the root ('' for the root). */
  rel: string;
}

interface DeferredDir {
  rel: string;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
}

const MAX_SYMLINKS = 255;
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

class Extractor {
  private readonly sameOwner: boolean;
  private readonly devices: boolean;
  /** Resolved parent directories, by the relative path asked for. Cleared on any removal. */
  private readonly dirCache = new Map<string, ResolvedDir>();
  /** Host paths this extraction wrote, and their ancestors (for whiteouts and opaque dirs). */
  private readonly written = new Set<string>();
  private readonly writtenAncestors = new Set<string>();
  private readonly deferred: DeferredDir[] = [];
  private readonly recorded = new Map<string, LayerEntry>();
  private count = 0;
  private whiteoutCount = 0;
  private readonly skipped: { path: string; reason: string }[] = [];
  private readonly opaqueDirs: string[] = [];

  constructor(
    private readonly root: string,
    /** Where archive paths start, relative to the root ('' for layers). */
    private readonly base: string,
    private readonly opts: ExtractorOptions,
  ) {
    this.sameOwner = opts.sameOwner ?? isRoot;
    this.devices = opts.devices ?? isRoot;
  }

  result(): ExtractResult {
    return { entries: this.count, whiteouts: this.whiteoutCount, skipped: this.skipped, opaqueDirs: this.opaqueDirs };
  }

  records(): LayerEntry[] {
    return [...this.recorded.values()];
  }

  /** Create `rel` (and missing parents) inside the root. */
  async ensureDir(rel: string): Promise<ResolvedDir> {
    const dir = await this.resolveDir(rel, true);
    if (!dir) throw new KilnError(`cannot create ${join(this.root, rel)}`);
    return dir;
  }

  private refuse(h: TarHeader, why: string): never {
    throw new UnsafeEntryError(`refusing to extract ${JSON.stringify(h.path)} from ${this.opts.what}: ${why}`);
  }

  private fullRel(rel: string): string {
    return this.base && rel ? `${this.base}/${rel}` : this.base || rel;
  }

  async apply(h: TarHeader, body: Readable): Promise<void> {
    try {
      await this.applyEntry(h, body);
    } catch (err) {
      if (err instanceof KilnError || !(err instanceof Error) || !('code' in err)) throw err;
      // A filesystem error (ENOSPC, EACCES, ...): say which entry it was.
      const wrapped = new KilnError(`cannot extract ${JSON.stringify(h.path)} from ${this.opts.what}: ${err.message}`);
      (wrapped as { cause?: unknown }).cause = err;
      throw wrapped;
    }
  }

  private async applyEntry(h: TarHeader, body: Readable): Promise<void> {
    this.count++;
    const cleaned = cleanArchivePath(h.path);
    if (cleaned === undefined) this.refuse(h, `the path climbs out of the ${this.base ? 'destination' : 'root'} directory`);
    const rel = this.fullRel(cleaned);

    if (cleaned === '') {
      // The archive's root entry ('./'): only a directory makes sense there.
      // A layer's './' sets the root's metadata; an ADDed archive's './' leaves the destination as is.
      if (h.type !== 'dir') this.refuse(h, 'the root can only be a directory');
      await this.ensureDir(rel);
      if (this.opts.whiteouts) this.defer(rel, h);
      return;
    }

    const name = baseName(rel);
    const parentRel = parentPath(rel);

    if (this.opts.whiteouts && name.startsWith(WHITEOUT_PREFIX)) {
      await this.whiteout(parentRel, name);
      return;
    }

    const parent = await this.resolveDir(parentRel, true);
    if (!parent) this.refuse(h, 'its parent directory cannot be created');
    const host = join(parent.host, name);
    const hostRel = parent.rel ? `${parent.rel}/${name}` : name;
    const existing = await lstatOrUndefined(host);

    switch (h.type) {
      case 'dir': {
        if (existing && !existing.isDirectory()) await this.remove(host, hostRel);
        if (!existing || !existing.isDirectory()) await mkdir(host, { mode: 0o700 });
        this.defer(hostRel, h);
        this.record(hostRel, { path: hostRel, type: 'dir', mode: h.mode, uid: h.uid, gid: h.gid, mtime: h.mtime });
        break;
      }
      case 'file': {
        if (existing) await this.remove(host, hostRel);
        const fh = await open(host, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
        try {
          await writeAll(fh, body);
          await this.applyMeta(fh, h);
        } finally {
          await fh.close();
        }
        this.record(hostRel, {
          path: hostRel,
          type: 'file',
          mode: h.mode,
          uid: h.uid,
          gid: h.gid,
          mtime: h.mtime,
          size: h.size,
          content: { path: host },
        });
        break;
      }
      case 'symlink': {
        if (existing) await this.remove(host, hostRel);
        const target = h.linkTarget ?? '';
        if (!target || target.includes('\0')) this.refuse(h, 'the symlink has no target');
        await symlink(target, host);
        if (this.sameOwner) await lchown(host, h.uid, h.gid);
        await lutimes(host, h.mtime, h.mtime);
        this.record(hostRel, { path: hostRel, type: 'symlink', mode: h.mode, uid: h.uid, gid: h.gid, mtime: h.mtime, linkTarget: target });
        break;
      }
      case 'hardlink': {
        const targetCleaned = cleanArchivePath(h.linkTarget ?? '');
        if (targetCleaned === undefined || targetCleaned === '') {
          this.refuse(h, `the hardlink target ${JSON.stringify(h.linkTarget)} is outside the ${this.base ? 'destination' : 'root'} directory`);
        }
        const targetRel = this.fullRel(targetCleaned);
        const targetParent = await this.resolveDir(parentPath(targetRel), false);
        const targetHost = targetParent ? join(targetParent.host, baseName(targetRel)) : undefined;
        const targetStat = targetHost ? await lstatOrUndefined(targetHost) : undefined;
        if (!targetHost || !targetParent || !targetStat) {
          throw new LayerEntryError(
            `cannot extract hardlink ${JSON.stringify(h.path)} from ${this.opts.what}: its target ${JSON.stringify(h.linkTarget)} does not exist`,
          );
        }
        if (targetStat.isDirectory()) this.refuse(h, 'a hardlink cannot point at a directory');
        if (targetHost === host) break;
        if (existing) await this.remove(host, hostRel);
        // link(2) never follows a symlink target on Linux: a link to a symlink links the symlink.
        await link(targetHost, host);
        const targetHostRel = targetParent.rel ? `${targetParent.rel}/${baseName(targetRel)}` : baseName(targetRel);
        this.record(hostRel, { path: hostRel, type: 'hardlink', mode: h.mode, uid: h.uid, gid: h.gid, mtime: h.mtime, linkTarget: targetHostRel });
        break;
      }
      case 'char':
      case 'block':
      case 'fifo': {
        if (h.type !== 'fifo' && !this.devices) {
          this.skipped.push({ path: h.path, reason: `${h.type} device nodes can only be created as root` });
          return;
        }
        if (existing) await this.remove(host, hostRel);
        const mode = (h.mode & 0o7777).toString(8);
        if (h.type === 'fifo') await run('mkfifo', ['-m', mode, '--', host]);
        else {
          await run('mknod', ['-m', mode, '--', host, h.type === 'char' ? 'c' : 'b', String(h.devMajor ?? 0), String(h.devMinor ?? 0)]);
        }
        if (this.sameOwner) await lchown(host, h.uid, h.gid);
        await lutimes(host, h.mtime, h.mtime);
        this.record(hostRel, {
          path: hostRel,
          type: h.type,
          mode: h.mode,
          uid: h.uid,
          gid: h.gid,
          mtime: h.mtime,
          ...(h.type === 'fifo' ? {} : { devMajor: h.devMajor ?? 0, devMinor: h.devMinor ?? 0 }),
        });
        break;
      }
    }
    this.markWritten(host);
  }

  /** Apply deferred directory metadata (deepest/last first, so parents' mtimes stick). */
  async finish(): Promise<void> {
    const done = new Set<string>();
    for (let i = this.deferred.length - 1; i >= 0; i--) {
      const d = this.deferred[i];
      if (!d || done.has(d.rel)) continue;
      done.add(d.rel);
      // Re-resolve: a later entry may have replaced a parent with a symlink.
      let host: string;
      if (d.rel === '') host = this.root;
      else {
        const parent = await this.resolveDir(parentPath(d.rel), false);
        if (!parent) continue;
        host = join(parent.host, baseName(d.rel));
      }
      let fh: FileHandle;
      try {
        fh = await open(host, fsc.O_RDONLY | fsc.O_DIRECTORY | fsc.O_NOFOLLOW);
      } catch {
        continue; // replaced or removed later in the archive
      }
      try {
        if (this.sameOwner) await fh.chown(d.uid, d.gid);
        await fh.chmod(d.mode);
        await fh.utimes(d.mtime, d.mtime);
      } finally {
        await fh.close();
      }
    }
  }

  private defer(rel: string, h: TarHeader): void {
    this.deferred.push({ rel, mode: h.mode, uid: h.uid, gid: h.gid, mtime: h.mtime });
  }

  private record(rel: string, entry: LayerEntry): void {
    if (this.opts.record) {
      this.recorded.delete(rel); // keep insertion order = last write
      this.recorded.set(rel, entry);
    }
  }

  private async applyMeta(fh: FileHandle, h: TarHeader): Promise<void> {
    // chown first: it clears setuid/setgid, which chmod then sets.
    if (this.sameOwner) await fh.chown(h.uid, h.gid);
    await fh.chmod(h.mode);
    await fh.utimes(h.mtime, h.mtime);
  }

  private markWritten(host: string): void {
    if (!this.opts.whiteouts) return;
    this.written.add(host);
    for (let dir = dirname(host); dir.length > this.root.length && !this.writtenAncestors.has(dir); dir = dirname(dir)) {
      this.writtenAncestors.add(dir);
    }
  }

  /** Remove whatever is at `host` (never following it); forget cached resolutions. */
  private async remove(host: string, hostRel: string): Promise<void> {
    await rm(host, { recursive: true, force: true });
    this.dirCache.clear();
    if (this.opts.record) {
      const prefix = `${hostRel}/`;
      for (const key of [...this.recorded.keys()]) {
        if (key === hostRel || key.startsWith(prefix)) this.recorded.delete(key);
      }
    }
  }

  private async whiteout(parentRel: string, name: string): Promise<void> {
    this.whiteoutCount++;
    if (this.opts.whiteoutFormat === 'overlay') return this.overlayWhiteout(parentRel, name);
    if (name === OPAQUE_WHITEOUT) {
      const dir = await this.resolveDir(parentRel, true);
      if (dir) await this.opaque(dir.host);
      return;
    }
    if (name.startsWith(`${WHITEOUT_PREFIX}${WHITEOUT_PREFIX}`)) return; // other aufs metadata
    const victim = name.slice(WHITEOUT_PREFIX.length);
    if (!victim || victim === '.' || victim === '..' || victim.includes('/')) return;
    const dir = await this.resolveDir(parentRel, false);
    if (!dir) return;
    const host = join(dir.host, victim);
    const st = await lstatOrUndefined(host);
    if (!st) return;
    if (this.written.has(host) || this.writtenAncestors.has(host)) {
      // Whiteouts apply to lower layers only. This layer already wrote the name (or below it):
      // keep what it wrote and hide only what lower layers had below it.
      if (st.isDirectory()) await this.opaque(host);
      return;
    }
    await rm(host, { recursive: true, force: true });
    this.dirCache.clear();
  }

  /** A whiteout in overlayfs's own format, inside this layer's directory. */
  private async overlayWhiteout(parentRel: string, name: string): Promise<void> {
    const dir = await this.resolveDir(parentRel, true);
    if (!dir) return;
    if (name === OPAQUE_WHITEOUT) {
      this.opaqueDirs.push(dir.rel);
      return;
    }
    if (name.startsWith(`${WHITEOUT_PREFIX}${WHITEOUT_PREFIX}`)) return; // other aufs metadata
    const victim = name.slice(WHITEOUT_PREFIX.length);
    if (!victim || victim === '.' || victim === '..' || victim.includes('/')) return;
    const host = join(dir.host, victim);
    // This layer also wrote the name: it replaces what was below, no whiteout needed.
    if (await lstatOrUndefined(host)) return;
    await makeWhiteout(host);
    this.markWritten(host);
  }

  /** Remove from `dir` everything this extraction did not write. */
  private async opaque(dir: string): Promise<void> {
    for (const name of await readdir(dir)) {
      const p = join(dir, name);
      const keep = this.written.has(p) || this.writtenAncestors.has(p);
      if (!keep) {
        await rm(p, { recursive: true, force: true });
        this.dirCache.clear();
        continue;
      }
      const st = await lstat(p);
      if (st.isDirectory()) await this.opaque(p);
    }
  }

  /**
   * Resolve a relative directory path inside the root, following symlinks as if the root were '/'.
   * Missing components are created (mode 0755) when `create`, else the result is undefined; a
   * component that exists but is not a directory gives undefined (or an error when creating).
   */
  private async resolveDir(rel: string, create: boolean): Promise<ResolvedDir | undefined> {
    if (rel === '') return { host: this.root, rel: '' };
    const cached = this.dirCache.get(rel);
    if (cached) return cached;

    const parts = rel.split('/');
    // Start from the longest prefix already resolved.
    let start = 0;
    let resolved: string[] = [];
    for (let n = parts.length - 1; n > 0; n--) {
      const hit = this.dirCache.get(parts.slice(0, n).join('/'));
      if (hit) {
        start = n;
        resolved = hit.rel ? hit.rel.split('/') : [];
        break;
      }
    }
    // Queue of components; those from the original path carry their index so prefixes can be cached.
    const queue: { c: string; i?: number }[] = parts.slice(start).map((c, k) => ({ c, i: start + k }));
    let links = 0;
    while (queue.length > 0) {
      const { c } = queue.shift()!;
      if (c === '' || c === '.') continue;
      if (c === '..') {
        resolved.pop();
      } else {
        const host = join(this.root, ...resolved, c);
        const st = await lstatOrUndefined(host);
        if (!st) {
          if (!create) return undefined;
          await mkdir(host, { mode: 0o755 });
          const createdRel = [...resolved, c].join('/');
          this.record(createdRel, { path: createdRel, type: 'dir', mode: 0o755, uid: 0, gid: 0 });
          resolved.push(c);
        } else if (st.isSymbolicLink()) {
          if (++links > MAX_SYMLINKS) {
            throw new UnsafeEntryError(`too many levels of symbolic links resolving ${JSON.stringify(rel)} in ${this.root}`);
          }
          const target = await readlink(host);
          if (target.startsWith('/')) resolved = [];
          queue.unshift(...target.split('/').map((t) => ({ c: t })));
          continue; // the link's expansion is pending: no prefix to cache yet
        } else if (st.isDirectory()) {
          resolved.push(c);
        } else {
          if (!create) return undefined;
          throw new LayerEntryError(
            `cannot extract into ${JSON.stringify(rel)} in ${this.opts.what}: ${JSON.stringify([...resolved, c].join('/'))} is not a directory`,
          );
        }
      }
      if (queue.every((q) => q.i !== undefined)) {
        // Nothing from a symlink expansion is pending: `resolved` is the original path's prefix.
        const upTo = queue[0]?.i ?? parts.length;
        const r = resolved.join('/');
        this.dirCache.set(parts.slice(0, upTo).join('/'), { host: r ? join(this.root, r) : this.root, rel: r });
      }
    }
    const r = resolved.join('/');
    const out = { host: r ? join(this.root, r) : this.root, rel: r };
    this.dirCache.set(rel, out);
    return out;
  }
}

async function lstatOrUndefined(p: string) {
  try {
    return await lstat(p);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw err;
  }
}

async function writeAll(fh: FileHandle, body: Readable): Promise<void> {
  let position = 0;
  for await (const chunk of body) {
    const buf = chunk as Buffer;
    let off = 0;
    while (off < buf.length) {
      const { bytesWritten } = await fh.write(buf, off, buf.length - off, position);
      off += bytesWritten;
      position += bytesWritten;
    }
  }
}

/** overlayfs's whiteout: a character device 0/0. */
export function makeWhiteout(host: string): Promise<void> {
  return run('mknod', ['-m', '000', '--', host, 'c', '0', '0']);
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((res, rej) => {
    execFile(cmd, args, (err, _stdout, stderr) => {
      if (!err) return res();
      const e = err as NodeJS.ErrnoException;
      rej(
        new KilnError(
          e.code === 'ENOENT' ? `cannot run ${cmd}: command not found` : `${cmd} ${args.join(' ')} failed: ${String(stderr).trim() || e.message}`,
        ),
      );
    });
  });
}
