// What a layer is made of: one entry per filesystem object, with paths relative to the root.

import type { EntryType } from '../archive/tar.js';
import { KilnError } from '../errors.js';

export type { EntryType } from '../archive/tar.js';

export interface LayerEntry {
  /** Relative to the root, '/'-separated, no leading '/', no trailing '/', no '.' or '..' segments. */
  path: string;
  type: EntryType;
  /** Permission bits incl. setuid/setgid/sticky (masked with 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** Files: the size in bytes (for `content.path`, the size seen when the file was stat'ed). */
  size?: number;
  /** Symlink: the target as-is. Hardlink: the target path, relative to the root. */
  linkTarget?: string;
  devMajor?: number;
  devMinor?: number;
  /** Seconds. The writer clamps to its epoch (min(mtime, epoch)); absent -> epoch. */
  mtime?: number;
  /**
   * Files: read from disk (streamed) or the given bytes. Absent -> an empty file. A file's
   * `digest`, when the caller knows it, lets a layer that replaces another copy it from there.
   */
  content?: { path: string; digest?: string } | { data: Uint8Array };
  /** Files: file capabilities, the raw security.capability attribute (as setcap writes it). */
  capability?: Uint8Array;
}

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_WHITEOUT = '.wh..wh..opq';

/** Thrown for a layer entry or archive member that is malformed or unsafe. */
export class LayerEntryError extends KilnError {}

/** Why `path` is not a valid layer entry path, or undefined when it is. */
export function entryPathProblem(path: string): string | undefined {
  if (path === '') return 'the path is empty';
  if (path.includes('\0')) return 'the path contains a NUL byte';
  if (path.startsWith('/')) return 'the path must be relative to the root (no leading "/")';
  if (path.endsWith('/')) return 'the path must not end with "/"';
  for (const segment of path.split('/')) {
    if (segment === '') return 'the path contains an empty segment ("//")';
    if (segment === '.' || segment === '..') return `the path contains a "${segment}" segment`;
  }
  return undefined;
}

/** Throws a LayerEntryError when `path` is not a valid layer entry path. */
export function validateEntryPath(path: string, what = 'layer entry path'): void {
  const problem = entryPathProblem(path);
  if (problem) throw new LayerEntryError(`invalid ${what} ${JSON.stringify(path)}: ${problem}`);
}

/**
 * Clean a path from an archive the way `path.posix.normalize` would, relative to a root:
 * drops leading '/', './', empty and '.' segments and resolves '..' lexically.
 * Returns undefined when the path climbs above the root (an escape attempt).
 * The root itself is ''.
 */
export function cleanArchivePath(path: string): string | undefined {
  const out: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (out.length === 0) return undefined;
      out.pop();
      continue;
    }
    out.push(segment);
  }
  return out.join('/');
}

/** Compare two paths by their UTF-8 bytes (so the order is the same on every machine). */
export function comparePaths(a: string, b: string): number {
  if (a === b) return 0;
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** The parent of a relative path ('' for a top-level entry). */
export function parentPath(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

/** The last segment of a relative path. */
export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}
