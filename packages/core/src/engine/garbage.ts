// Garbage collection of the store, for `kiln rmi`, `image prune`, `builder prune`, `system
// prune` and `system df`. A blob stays while an image (tagged or not) or a build-cache record
// needs it; everything else goes. Collections run with no lease held (store.withoutLeases): a
// running build, pull, load or push holds one, so nothing it writes or reuses is taken from
// under it. Sizes are the bytes that leave the disk (blob files, record files, directories as
// `du -sb` counts them).

import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { isIndex } from '../oci/media-types.js';
import type { ImageIndex, ImageManifest } from '../oci/types.js';
import type { StoredCacheRecord, StoredDirectory } from '../contracts/maintenance.js';
import type { ImageRecord } from '../contracts/refs.js';
import type { ContentStore } from '../store/types.js';

/** Every blob the images `digests` need: index, manifests, configs and layers that are stored. */
export async function blobsOfImages(store: ContentStore, digests: Iterable<string>): Promise<Set<string>> {
  const out = new Set<string>();
  const visit = async (digest: string): Promise<void> => {
    if (out.has(digest) || !(await store.hasBlob(digest))) return;
    out.add(digest);
    // Only manifests and indexes are visited: an error reading one stops the collection rather
    // than letting it remove what that image needs.
    const doc = await store.readJson<ImageManifest | ImageIndex>(digest);
    if (isIndex(doc.mediaType) || 'manifests' in doc) {
      for (const m of (doc as ImageIndex).manifests ?? []) await visit(m.digest);
      return;
    }
    const manifest = doc as ImageManifest;
    if (manifest.config?.digest) out.add(manifest.config.digest);
    for (const layer of manifest.layers ?? []) out.add(layer.digest);
  };
  for (const d of digests) await visit(d);
  return out;
}

/**
 * The digests an image record keeps: the image, and its form as each registry has it (a push's
 * manifest with gzip layers: compressed once, and the record of which repository holds which blob).
 */
export function imageTops(images: readonly ImageRecord[]): string[] {
  return images.flatMap((i) => [i.digest, ...(i.repoDigests ?? []).map((r) => r.slice(r.lastIndexOf('@') + 1))]);
}

/** The layer blobs build-cache records keep. */
export function blobsOfCache(records: readonly StoredCacheRecord[]): Set<string> {
  return new Set(records.flatMap((r) => (r.record.layer ? [r.record.layer.digest] : [])));
}

/** Bytes of a directory tree as `du -sb` counts them (apparent sizes, each inode once). */
export async function directorySize(path: string): Promise<number> {
  const seen = new Set<string>();
  const walk = async (p: string): Promise<number> => {
    const st = await lstat(p).catch(() => undefined);
    if (!st) return 0;
    const inode = `${st.dev}:${st.ino}`;
    if (seen.has(inode)) return 0;
    seen.add(inode);
    let total = st.size;
    if (st.isDirectory()) {
      for (const name of await readdir(p).catch(() => [] as string[])) total += await walk(join(p, name));
    }
    return total;
  };
  return walk(path);
}

export interface Reclaimed {
  /** Blobs removed, with their bytes. */
  blobs: { digest: string; size: number }[];
  bytes: number;
}

/** Remove every blob no image and no build-cache record needs. Call inside store.withoutLeases. */
export async function sweepBlobs(store: ContentStore): Promise<Reclaimed> {
  const images = await store.listImages();
  const containers = await store.listContainers();
  // Kept containers hold their image and the layer of their changes (for kiln commit).
  const keep = await blobsOfImages(store, [...imageTops(images), ...containers.map((c) => c.imageDigest)]);
  for (const c of containers) if (c.layer) keep.add(c.layer.digest);
  for (const d of blobsOfCache(await store.listCacheRecords())) keep.add(d);
  const removed: { digest: string; size: number }[] = [];
  for (const blob of await store.listBlobs()) {
    if (keep.has(blob.digest)) continue;
    await store.removeBlob(blob.digest);
    removed.push({ digest: blob.digest, size: blob.size });
  }
  return { blobs: removed, bytes: removed.reduce((n, b) => n + b.size, 0) };
}

/** A directory of the RUN caches with its size, for df and prune. */
export interface SizedDirectory extends StoredDirectory {
  size: number;
}

export async function sized(dirs: readonly StoredDirectory[]): Promise<SizedDirectory[]> {
  const out: SizedDirectory[] = [];
  for (const d of dirs) out.push({ ...d, size: await directorySize(d.path) });
  return out;
}

/** What `system df` reports, by type. */
export interface DiskUsage {
  /** active: images a kept container ran. */
  images: { total: number; active: number; size: number; reclaimable: number };
  /** Containers kept by kiln run: the layers of their changes. */
  containers: { total: number; size: number };
  buildCache: { total: number; size: number; reclaimable: number; records: StoredCacheRecord[] };
  unpacked: { total: number; size: number; dirs: SizedDirectory[] };
  cacheMounts: { total: number; size: number; dirs: SizedDirectory[] };
}

/**
 * Disk usage: images (their blobs; reclaimable = what no build-cache record shares), the build
 * cache (its records and the layer blobs only it keeps: `builder prune -a` frees them), the
 * unpacked layers RUN uses and the RUN cache mounts (all reclaimable).
 */
export async function diskUsage(store: ContentStore): Promise<DiskUsage> {
  const blobSizes = new Map((await store.listBlobs()).map((b) => [b.digest, b.size]));
  const bytes = (digests: Iterable<string>) => [...digests].reduce((n, d) => n + (blobSizes.get(d) ?? 0), 0);
  const images = await store.listImages();
  const imageBlobs = await blobsOfImages(store, imageTops(images));
  const containers = await store.listContainers();
  const containerLayers = new Set(containers.flatMap((c) => (c.layer ? [c.layer.digest] : [])));
  const usedImages = new Set(containers.map((c) => c.imageDigest));
  const records = await store.listCacheRecords();
  const cacheBlobs = blobsOfCache(records);
  const onlyImages = [...imageBlobs].filter((d) => !cacheBlobs.has(d));
  const onlyCache = [...cacheBlobs].filter((d) => !imageBlobs.has(d));
  const recordBytes = records.reduce((n, r) => n + r.size, 0);
  const unpacked = await sized(await store.listUnpackedLayers());
  const mounts = await sized(await store.listCacheMounts());
  const sum = (dirs: SizedDirectory[]) => dirs.reduce((n, d) => n + d.size, 0);
  return {
    images: { total: images.length, active: images.filter((i) => usedImages.has(i.digest)).length, size: bytes(imageBlobs), reclaimable: bytes(onlyImages) },
    containers: { total: containers.length, size: bytes([...containerLayers].filter((d) => !imageBlobs.has(d) && !cacheBlobs.has(d))) },
    buildCache: { total: records.length, size: bytes(onlyCache) + recordBytes, reclaimable: bytes(onlyCache) + recordBytes, records },
    unpacked: { total: unpacked.length, size: sum(unpacked), dirs: unpacked },
    cacheMounts: { total: mounts.length, size: sum(mounts), dirs: mounts },
  };
}
