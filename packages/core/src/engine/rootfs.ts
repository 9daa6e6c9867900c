// A read-only view of an image's root filesystem, built from its layers without unpacking them:
// the path index answers "is /app a directory?", and single files (/etc/passwd) are read from
// the topmost layer that has them. Unpacking to disk happens only for COPY --from.

import { KilnError } from '../errors.js';
import { buildFsIndex, extractLayer, layerHeaders, readFileFromLayers, resolveInIndex, storedLayer, withLayerApplied } from '../layer/index.js';
import type { EntryType, LayerEntry } from '../layer/index.js';
import { chainIds, digestHex } from '../oci/digest.js';
import { parseUserDatabase } from '../run/user.js';
import type { LayerRecord } from '../contracts/blobs.js';
import type { ContentStore } from '../store/types.js';
import type { LayerFetch } from './remote-layers.js';

export interface FsNode {
  type: EntryType;
  mode: number;
  uid: number;
  gid: number;
  linkTarget?: string;
  /** Seconds since the epoch; absent for entries a build wrote without one (the writer's epoch). */
  mtime?: number;
  /** Files: the size in bytes. */
  size?: number;
}

export type FsIndex = Map<string, FsNode>;


/** Store meta kind of the kept base-image indexes. */
const INDEX_META = 'fs-index';
/** Store meta kind of each layer's kept entry list (headers only), by diffID. */
const HEADERS_META = 'layer-headers';

/** The part of a layer entry the index needs. */
type IndexedEntry = Pick<LayerEntry, 'path' | 'type' | 'mode' | 'uid' | 'gid' | 'linkTarget' | 'mtime' | 'size'>;

const isIndexedEntry = (e: unknown): e is IndexedEntry =>
  typeof e === 'object' && e !== null && typeof (e as IndexedEntry).path === 'string' && typeof (e as IndexedEntry).type === 'string';

/**
 * Keep a layer's entry list (no bodies) in the store by its diffID, so that a later build that
 * takes the layer from the cache learns its paths without reading the layer's tar again.
 */
export async function keepLayerHeaders(store: ContentStore, layer: LayerRecord, entries: readonly IndexedEntry[]): Promise<void> {
  const kept = entries.map(({ path, type, mode, uid, gid, linkTarget, mtime, size }) => ({ path, type, mode, uid, gid, linkTarget, mtime, size }));
  await store.writeMeta(HEADERS_META, digestHex(layer.diffId), kept);
}

const isIndexEntries = (kept: unknown): kept is [string, FsNode][] =>
  Array.isArray(kept) && kept.every((e) => Array.isArray(e) && typeof e[0] === 'string' && typeof e[1]?.type === 'string');

/**
 * The kept index (path -> node) of the filesystem whose top layer has chain ID `chainId`: a base
 * image's, once a build read its layers or a build cache brought it. Undefined when there is none.
 */
export async function keptFsIndex(store: ContentStore, chainId: string): Promise<[string, FsNode][] | undefined> {
  const kept = await store.readMeta<unknown>(INDEX_META, digestHex(chainId));
  // A side file of the wrong shape (another version, a damaged one) is recomputed, not trusted.
  return isIndexEntries(kept) ? kept : undefined;
}

/** Keeps `entries` as the index of the filesystem with chain ID `chainId`; false (nothing kept) when they are not an index. */
export async function keepFsIndex(store: ContentStore, chainId: string, entries: unknown): Promise<boolean> {
  if (!isIndexEntries(entries)) return false;
  await store.writeMeta(INDEX_META, digestHex(chainId), entries);
  return true;
}

/** A layer's entries: kept ones when there are (see keepLayerHeaders), else read from its tar and kept. */
async function layerEntries(store: ContentStore, layer: LayerRecord, fetch?: LayerFetch): Promise<readonly IndexedEntry[]> {
  const kept = await store.readMeta<unknown>(HEADERS_META, digestHex(layer.diffId));
  // A side file of the wrong shape (another version, a damaged one) is recomputed, not trusted.
  if (Array.isArray(kept) && kept.every(isIndexedEntry)) return kept;
  await fetch?.([layer]);
  const headers = await layerHeaders(storedLayer(store, layer));
  await keepLayerHeaders(store, layer, headers);
  return headers;
}

export class RootfsView {
  private indexPromise?: Promise<FsIndex>;

  constructor(
    private readonly store: ContentStore,
    readonly layers: readonly LayerRecord[],
    /** Brings layers the store lacks (a registry base kept as a reference) before they are read. */
    private readonly fetch?: LayerFetch,
    private readonly parent?: { view: RootfsView; layer: LayerRecord; added?: readonly LayerEntry[] },
  ) {}

  /**
   * The view after adding one layer. With its entries known, no tar is read again; without them
   * (a RUN step answered by the cache) only that layer's headers are read, when needed.
   */
  withLayer(layer: LayerRecord, entries?: readonly LayerEntry[]): RootfsView {
    return new RootfsView(this.store, [...this.layers, layer], this.fetch, { view: this, layer, added: entries });
  }

  index(): Promise<FsIndex> {
    this.indexPromise ??= this.buildIndex();
    return this.indexPromise;
  }

  private async buildIndex(): Promise<FsIndex> {
    if (!this.parent) return this.baseIndex();
    const added = this.parent.added ?? (await layerEntries(this.store, this.parent.layer, this.fetch));
    return withLayerApplied(await this.parent.view.index(), added, (e): FsNode => ({
      type: e.type,
      mode: e.mode,
      uid: e.uid,
      gid: e.gid,
      linkTarget: e.linkTarget,
      mtime: e.mtime,
      size: e.size,
    }));
  }

  /**
   * A base image's index, read from its layers' headers once and then kept in the store by the
   * top layer's chain ID, so a later build (a cache hit above all) reads no tar for it.
   */
  private async baseIndex(): Promise<FsIndex> {
    if (this.layers.length === 0) return new Map();
    const chainId = chainIds(this.layers.map((l) => l.diffId)).at(-1)!;
    const kept = await keptFsIndex(this.store, chainId);
    if (kept) return new Map(kept);
    const index: FsIndex = new Map();
    await this.fetch?.(this.layers);
    for (const [path, e] of await buildFsIndex(this.layers.map((l) => storedLayer(this.store, l)))) {
      index.set(path, { type: e.type, mode: e.mode, uid: e.uid, gid: e.gid, linkTarget: e.linkTarget, mtime: e.mtime, size: e.size });
    }
    await keepFsIndex(this.store, chainId, [...index]);
    return index;
  }

  /** Resolve symlinks in `path` (relative, no leading '/') inside this filesystem. */
  async resolve(path: string): Promise<{ path: string; node?: FsNode }> {
    const { path: resolved, entry } = resolveInIndex(await this.index(), path);
    return { path: resolved, node: resolved === '' ? { type: 'dir', mode: 0o755, uid: 0, gid: 0 } : entry };
  }

  /**
   * Where a path really lands in this filesystem: symlinks in its existing directories are
   * followed (as BuildKit resolves a destination inside the rootfs), the last component is
   * followed only when `followFinal`. Missing components are kept as written.
   */
  async landingPath(path: string, followFinal: boolean): Promise<string> {
    if (followFinal) return (await this.resolve(path)).path;
    const slash = path.lastIndexOf('/');
    if (slash < 0) return path;
    const dir = (await this.resolve(path.slice(0, slash))).path;
    const name = path.slice(slash + 1);
    return dir === '' ? name : `${dir}/${name}`;
  }

  async readFile(path: string): Promise<Buffer | undefined> {
    const { path: resolved, node } = await this.resolve(path);
    if (node?.type !== 'file') return undefined;
    await this.fetch?.(this.layers);
    return readFileFromLayers(this.layers.map((l) => storedLayer(this.store, l)), resolved);
  }

  /** Unpack every layer into a fresh directory (for COPY --from). */
  async materialize(): Promise<string> {
    await this.fetch?.(this.layers);
    const dir = await this.store.makeTempDir('rootfs-');
    for (const layer of this.layers) {
      const source = storedLayer(this.store, layer);
      await extractLayer(source.open(), source.compression, dir);
    }
    return dir;
  }
}

/** uid and gid for `--chown` / USER: numeric ids, or names looked up in /etc/passwd and /etc/group. */
export async function resolveOwner(view: RootfsView, spec: string): Promise<{ uid: number; gid: number }> {
  const [user = '', group] = spec.split(':', 2) as [string, string?];
  const numeric = (s: string) => (/^\d+$/.test(s) ? Number(s) : undefined);
  let uid = numeric(user);
  let gid: number | undefined;
  if (uid === undefined) {
    const entry = parseUserDatabase(await view.readFile('etc/passwd')).find((f) => f[0] === user);
    if (!entry) throw new KilnError(`unable to find user ${user}: no matching entries in /etc/passwd of the image`);
    uid = Number(entry[2]);
    gid = Number(entry[3]);
  } else gid = uid;
  if (group !== undefined && group !== '') {
    const g = numeric(group);
    if (g !== undefined) gid = g;
    else {
      const entry = parseUserDatabase(await view.readFile('etc/group')).find((f) => f[0] === group);
      if (!entry) throw new KilnError(`unable to find group ${group}: no matching entries in /etc/group of the image`);
      gid = Number(entry[2]);
    }
  }
  return { uid, gid };
}
