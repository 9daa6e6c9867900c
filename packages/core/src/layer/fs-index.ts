// The final filesystem view of a stack of layers, from headers only (bodies are skipped), and
// single-file reads from the topmost layer that has the file.

import type { Readable } from 'node:stream';
import { KilnError } from '../errors.js';
import type { BlobFiles, BlobReader, LayerRecord } from '../contracts/blobs.js';
import { layerCompression, type LayerCompression } from '../oci/media-types.js';
import { OPAQUE_WHITEOUT, WHITEOUT_PREFIX, baseName, cleanArchivePath, parentPath } from './entry.js';
import { readLayer } from './reader.js';
import { scanTarHeaders } from './header-scan.js';
import type { TarHeader } from './reader.js';

/** Where a layer's bytes come from. */
export interface LayerSource {
  open(): Readable;
  compression: LayerCompression;
  /** The file holding the uncompressed tar, when there is one: its headers can be read by seeking. */
  plainFile?: string;
}

/**
 * A layer of the store as a LayerSource (its blob streamed and verified, its compression by media
 * type; an uncompressed blob also by its file, when the store has files).
 */
export function storedLayer(store: Pick<BlobReader, 'openBlob'> & Partial<Pick<BlobFiles, 'blobPath'>>, layer: LayerRecord): LayerSource {
  const compression = layerCompression(layer.mediaType);
  if (!compression) throw new KilnError(`unsupported layer media type ${layer.mediaType} (layer ${layer.digest})`);
  const plainFile = compression === 'none' ? store.blobPath?.(layer.digest) : undefined;
  return { open: () => store.openBlob(layer.digest), compression, ...(plainFile ? { plainFile } : {}) };
}

/** One path of the final view: its header, and the index of the layer it comes from. */
export type FsIndexEntry = TarHeader & { layer: number };

/** Path (relative, no leading '/') -> metadata, after applying every layer in order. */
export type FsIndex = Map<string, FsIndexEntry>;

/**
 * Apply the layers' headers in order: later entries replace earlier ones, `.wh.name` removes a
 * path of a lower layer (and everything below it), `.wh..wh..opq` removes what lower layers had in
 * a directory, a non-directory replacing a directory hides what was below it. Paths are lexical
 * (symlinks are not followed; use `resolveInIndex`).
 */
export async function buildFsIndex(layers: readonly LayerSource[]): Promise<FsIndex> {
  const tree = new FsTree<FsIndexEntry>();
  for (let i = 0; i < layers.length; i++) {
    const headers = await layerHeaders(layers[i]!);
    applyHeaders(tree, headers, (h, path) => ({ ...h, path, layer: i }));
  }
  return tree.entries;
}

/** The headers of one layer, bodies skipped. */
export async function layerHeaders(layer: LayerSource): Promise<TarHeader[]> {
  const scanned = layer.plainFile ? scanTarHeaders(layer.plainFile) : undefined;
  if (scanned) return scanned;
  const headers: TarHeader[] = [];
  await readLayer(layer.open(), layer.compression, async (h, body) => {
    body.resume();
    headers.push(h);
  });
  return headers;
}

/**
 * An index with one more layer applied on top: `base` is not changed. `toEntry` makes the index
 * entry of a layer entry (its path cleaned).
 */
export function withLayerApplied<E extends { type: string }, H extends { path: string }>(
  base: ReadonlyMap<string, E>,
  layer: readonly H[],
  toEntry: (h: H, path: string) => E,
): Map<string, E> {
  const tree = new FsTree<E>(base);
  applyHeaders(tree, layer, toEntry);
  return tree.entries;
}

/** Whiteouts hide lower layers only, so they go first; then this layer's own entries. */
function applyHeaders<E extends { type: string }, H extends { path: string }>(tree: FsTree<E>, headers: readonly H[], toEntry: (h: H, path: string) => E): void {
  for (const h of headers) {
    const path = cleanArchivePath(h.path);
    if (path === undefined || path === '') continue;
    const name = baseName(path);
    if (!name.startsWith(WHITEOUT_PREFIX)) continue;
    const dir = parentPath(path);
    if (name === OPAQUE_WHITEOUT) tree.removeChildren(dir);
    else if (!name.startsWith(WHITEOUT_PREFIX + WHITEOUT_PREFIX)) tree.remove(dir ? `${dir}/${name.slice(4)}` : name.slice(4));
  }
  for (const h of headers) {
    const path = cleanArchivePath(h.path);
    if (path === undefined || path === '' || baseName(path).startsWith(WHITEOUT_PREFIX)) continue;
    tree.set(path, toEntry(h, path));
  }
}

/**
 * Resolve symlinks in `path` through an index, as if its root were '/'. `followFinal` (default
 * true) also follows a symlink in the last component. Returns the resolved path ('' is the root)
 * and its entry, if any.
 */
export function resolveInIndex<E extends { type: string; linkTarget?: string }>(
  index: ReadonlyMap<string, E>,
  path: string,
  options: { followFinal?: boolean } = {},
): { path: string; entry?: E } {
  const followFinal = options.followFinal ?? true;
  const queue = path.split('/').filter((s) => s !== '' && s !== '.');
  const done: string[] = [];
  let hops = 0;
  while (queue.length > 0) {
    const part = queue.shift()!;
    if (part === '..') {
      done.pop();
      continue;
    }
    const candidate = [...done, part].join('/');
    const entry = index.get(candidate);
    if (entry?.type === 'symlink' && entry.linkTarget && (followFinal || queue.length > 0)) {
      if (++hops > 40) throw new KilnError(`too many levels of symbolic links resolving /${path}`);
      if (entry.linkTarget.startsWith('/')) done.length = 0;
      queue.unshift(...entry.linkTarget.split('/').filter((s) => s !== '' && s !== '.'));
      continue;
    }
    done.push(part);
  }
  const resolved = done.join('/');
  return { path: resolved, entry: index.get(resolved) };
}

class StopScan extends Error {}

/**
 * The bytes of the file at `path` (relative, no leading '/') in the final view of `layers`: read
 * from the topmost layer that has it, honouring whiteouts, opaque directories and parents replaced
 * by non-directories; symlinks (in the path or at its end) and hardlinks are followed.
 * Undefined when there is no such regular file. Scans layers from the top and stops early.
 */
export async function readFileFromLayers(
  layers: readonly LayerSource[],
  path: string,
  depth = 0,
): Promise<Buffer | undefined> {
  if (depth > 40) throw new KilnError(`too many levels of links reading /${path}`);
  const target = cleanArchivePath(path);
  if (target === undefined || target === '') return undefined;
  const ancestors = new Set<string>();
  for (let p = parentPath(target); p !== ''; p = parentPath(p)) ancestors.add(p);
  /** Ancestors an upper layer has as directories: a lower non-directory there no longer counts. */
  const dirsAbove = new Set<string>();

  for (let i = layers.length - 1; i >= 0; i--) {
    const layer = layers[i]!;
    let found: Buffer | undefined;
    let redirect: { path: string; layers: readonly LayerSource[] } | undefined;
    let hidden = false;
    let gone = false;
    const dirsHere: string[] = [];
    try {
      await readLayer(layer.open(), layer.compression, async (h, body) => {
        const p = cleanArchivePath(h.path);
        if (p === undefined || p === '') return;
        const name = baseName(p);
        const dir = parentPath(p);
        if (name.startsWith(WHITEOUT_PREFIX)) {
          if (name === OPAQUE_WHITEOUT) {
            if (ancestors.has(dir) || dir === '') hidden = true;
          } else {
            const victim = dir ? `${dir}/${name.slice(4)}` : name.slice(4);
            if (victim === target || ancestors.has(victim)) hidden = true;
          }
          return;
        }
        if (p === target) {
          if (h.type === 'file') {
            const chunks: Buffer[] = [];
            for await (const c of body) chunks.push(c as Buffer);
            found = Buffer.concat(chunks);
          } else if (h.type === 'hardlink' && h.linkTarget) {
            redirect = { path: h.linkTarget, layers: layers.slice(0, i + 1) };
          } else if (h.type === 'symlink' && h.linkTarget) {
            redirect = { path: joinLink(dir, h.linkTarget), layers };
          } else {
            gone = true;
          }
          throw new StopScan();
        }
        if (ancestors.has(p)) {
          if (h.type === 'dir') {
            dirsHere.push(p);
          } else if (dirsAbove.has(p)) {
            hidden = true; // an upper directory replaced this non-directory
          } else if (h.type === 'symlink' && h.linkTarget) {
            redirect = { path: joinLink(dir, h.linkTarget) + target.slice(p.length), layers };
            throw new StopScan();
          } else {
            gone = true;
            throw new StopScan();
          }
        }
      });
    } catch (err) {
      if (!(err instanceof StopScan)) throw err;
    }
    if (found) return found;
    if (redirect) return readFileFromLayers(redirect.layers, redirect.path, depth + 1);
    if (gone || hidden) return undefined;
    for (const d of dirsHere) dirsAbove.add(d);
  }
  return undefined;
}

/** Where a symlink in `dir` pointing at `target` leads, relative to the root (lexically, clamped). */
function joinLink(dir: string, target: string): string {
  const parts = target.startsWith('/') ? [] : dir.split('/').filter(Boolean);
  for (const s of target.split('/')) {
    if (s === '' || s === '.') continue;
    if (s === '..') parts.pop();
    else parts.push(s);
  }
  return parts.join('/');
}

/** A path map with a child list per directory, so whole subtrees can be removed cheaply. */
class FsTree<E extends { type: string }> {
  readonly entries = new Map<string, E>();
  private readonly children = new Map<string, Set<string>>();

  constructor(base?: ReadonlyMap<string, E>) {
    if (!base) return;
    for (const [path, entry] of base) {
      this.entries.set(path, entry);
      this.child(path);
    }
  }

  private child(path: string): void {
    const dir = parentPath(path);
    let kids = this.children.get(dir);
    if (!kids) this.children.set(dir, (kids = new Set()));
    kids.add(baseName(path));
  }

  set(path: string, entry: E): void {
    const old = this.entries.get(path);
    if (old && (old.type !== 'dir' || entry.type !== 'dir')) this.removeChildren(path);
    this.entries.set(path, entry);
    this.child(path);
  }

  remove(path: string): void {
    this.removeChildren(path);
    this.entries.delete(path);
    this.children.get(parentPath(path))?.delete(baseName(path));
  }

  removeChildren(dir: string): void {
    const kids = this.children.get(dir);
    if (!kids) return;
    this.children.delete(dir);
    for (const k of kids) {
      const p = dir ? `${dir}/${k}` : k;
      this.removeChildren(p);
      this.entries.delete(p);
    }
  }
}
