// Walks a build context through .dockerignore, and digests file contents with a cache keyed by
// (inode, size, mtime) kept in the store, so an unchanged tree is not re-read.

import { createHash } from 'node:crypto';
import { createReadStream, lstatSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import type { MetaFiles } from '../contracts/meta.js';
import { KilnError } from '../errors.js';
import type { IgnoreMatcher } from './dockerignore.js';

export interface ContextEntry {
  /** Relative to the context root, '/'-separated. */
  path: string;
  absPath: string;
  type: 'file' | 'dir' | 'symlink';
  /** Permission bits (with setuid/setgid/sticky). */
  mode: number;
  size: number;
  uid: number;
  gid: number;
  mtimeMs: number;
  ino: number;
  dev?: number;
  /** Hard links to the same inode (files copied together keep them, as Docker does). */
  nlink?: number;
  linkTarget?: string;
}

/** Every entry of the context that .dockerignore keeps, sorted by path. */
export async function walkContext(root: string, matcher: IgnoreMatcher): Promise<ContextEntry[]> {
  const rootStat = await lstat(root).catch(() => undefined);
  // The walk itself uses synchronous calls: metadata is almost always cached, and a thread-pool
  // round trip per lstat would cost more than the call.
  if (!rootStat?.isDirectory()) throw new KilnError(`build context ${root} is not a directory`);
  const entries: ContextEntry[] = [];
  function visit(dir: string, rel: string, parentExcluded: boolean): void {
    const names = readdirSync(dir).sort();
    for (const name of names) {
      const path = rel ? `${rel}/${name}` : name;
      const absPath = join(dir, name);
      const excluded = matcher.matchesWithParent(path, parentExcluded);
      const st = lstatSync(absPath);
      const type = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : st.isFile() ? 'file' : undefined;
      if (type === undefined) continue; // sockets, fifos and devices are not part of a build context
      if (!excluded) {
        entries.push({
          path, absPath, type, mode: st.mode & 0o7777, size: type === 'file' ? st.size : 0,
          uid: st.uid, gid: st.gid, mtimeMs: st.mtimeMs, ino: st.ino, dev: st.dev, nlink: st.nlink,
          linkTarget: type === 'symlink' ? readlinkSync(absPath) : undefined,
        });
      }
      // An excluded directory may still hold re-included paths when there are `!` patterns.
      if (type === 'dir' && (!excluded || matcher.hasExclusions)) visit(absPath, path, excluded);
    }
  }
  visit(root, '', false);
  return entries;
}

interface DigestCacheFile {
  version: 1;
  files: Record<string, [ino: number, size: number, mtimeMs: number, digest: string]>;
}

/** Content digests of context files, re-reading only files whose (inode, size, mtime) changed. */
export class ContextDigests {
  private changed = false;
  rereads = 0;

  private constructor(
    private readonly store: MetaFiles,
    private readonly root: string,
    private readonly cache: DigestCacheFile,
  ) {}

  static async load(store: MetaFiles, root: string): Promise<ContextDigests> {
    const cache = await store.readMeta<DigestCacheFile>('context-digests', root);
    return new ContextDigests(store, root, cache?.version === 1 ? cache : { version: 1, files: {} });
  }

  async digest(entry: ContextEntry): Promise<string> {
    const hit = this.cache.files[entry.path];
    if (hit && hit[0] === entry.ino && hit[1] === entry.size && hit[2] === entry.mtimeMs) return hit[3];
    const digest = await hashFile(entry.absPath);
    this.rereads++;
    this.cache.files[entry.path] = [entry.ino, entry.size, entry.mtimeMs, digest];
    this.changed = true;
    return digest;
  }

  async save(): Promise<void> {
    if (this.changed) await this.store.writeMeta('context-digests', this.root, this.cache);
    this.changed = false;
  }
}

/** Files up to this size are read in one synchronous call (a thread-pool hop costs more). */
const SMALL_FILE = 1 << 20;

export async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  const st = statSync(path);
  if (st.size <= SMALL_FILE) hash.update(readFileSync(path));
  else for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}
