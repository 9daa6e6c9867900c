// The form of an image a registry receives. Layers stay plain tar in the store (nothing to
// decompress when a build reads them, nothing to compress when it writes them); a push sends
// them gzipped, as docker and BuildKit publish. Each layer is compressed once, on several cores,
// and the result is remembered by its uncompressed digest, so a second push of the same layer
// (this image again, or another image sharing it) compresses nothing. gzip here is deterministic
// (archive/parallel-gzip.ts), so the pushed digest is the same on every machine.

import { parallelGzip } from '../archive/compression.js';
import { KilnError } from '../errors.js';
import { MediaTypes, isIndex, layerCompression } from '../oci/media-types.js';
import type { Descriptor, ImageIndex, ImageManifest } from '../oci/types.js';
import type { Blobs } from '../contracts/blobs.js';
import type { MetaFiles } from '../contracts/meta.js';
import type { RegistryClient } from '../registry/client.js';
import type { PushResult, TransferListener } from '../registry/types.js';
import { repositoryName, type ImageReference } from '../reference/index.js';
import type { ContentStore } from '../store/types.js';
import { blobSources, layerFetcher, type LayerFetch } from './remote-layers.js';
import { collectImageBlobs } from '../oci/content.js';

/** How pushed layers are compressed: gzip at a zlib level, or as stored ('none'). */
export type PushCompression = { type: 'gzip'; level: number } | { type: 'none' };

const DEFAULT_GZIP_LEVEL = 1;

/** gzip level 1, as crane and ko publish: about 2.5x faster than level 6 for ~10% more bytes. */
export const DEFAULT_PUSH_COMPRESSION: PushCompression = { type: 'gzip', level: DEFAULT_GZIP_LEVEL };

/** Parses `gzip`, `gzip:LEVEL` (0-9) or `none`, as `--compression` and the front ends' options take it. */
export function parsePushCompression(text: string, what: string): PushCompression {
  const [type, level] = text.split(':', 2) as [string, string?];
  if (type === 'none' && level === undefined) return { type: 'none' };
  const n = level === undefined ? DEFAULT_GZIP_LEVEL : Number(level);
  if (type === 'gzip' && Number.isInteger(n) && n >= 0 && n <= 9) return { type: 'gzip', level: n };
  const zstd = type === 'zstd' ? ' (zstd is not offered yet: Node 20, which Kiln supports, has no zstd compressor)' : '';
  throw new KilnError(`${what} must be gzip, gzip:LEVEL with LEVEL 0-9, or none, not "${text}"${zstd}`);
}

/** What a compressed layer was made from: remembered per (uncompressed digest, compression). */
interface CompressedLayer {
  digest: string;
  size: number;
}

type Store = Blobs & MetaFiles;

/**
 * The digest of `digest` (a manifest or an index in `store`) as it is to be pushed: itself when
 * every layer already has the asked compression (or `none` is asked), else a manifest (and index)
 * written to the store whose plain-tar layers are gzip blobs, compressed now or remembered from
 * an earlier push. Configs, and so image IDs, do not change: diff_ids name the plain tar.
 */
export async function distributionForm(store: Store, digest: string, compression: PushCompression, fetch?: LayerFetch): Promise<string> {
  if (compression.type === 'none') return digest;
  const converted = await convert(store, digest, compression, fetch);
  return converted?.digest ?? digest;
}

async function convert(store: Store, digest: string, compression: { type: 'gzip'; level: number }, fetch?: LayerFetch): Promise<Descriptor | undefined> {
  const doc = await store.readJson<ImageManifest | ImageIndex>(digest);
  if (isIndex(doc.mediaType) || 'manifests' in doc) {
    const index = doc as ImageIndex;
    let changed = false;
    const manifests: Descriptor[] = [];
    for (const m of index.manifests) {
      // An index's children may be other platforms' manifests that were never stored (a pulled
      // multi-platform base): those are pushed as they are, by digest.
      const child = (await store.hasBlob(m.digest)) ? await convert(store, m.digest, compression, fetch) : undefined;
      changed ||= child !== undefined;
      manifests.push(child ? { ...m, digest: child.digest, size: child.size } : m);
    }
    if (!changed) return undefined;
    const written = await store.writeJson({ ...index, manifests });
    return { mediaType: index.mediaType, digest: written.digest, size: written.size };
  }
  const manifest = doc as ImageManifest;
  const docker = manifest.mediaType === MediaTypes.dockerManifest;
  let changed = false;
  const layers: Descriptor[] = [];
  for (const layer of manifest.layers) {
    if (layerCompression(layer.mediaType) !== 'none' || layer.urls?.length) {
      layers.push(layer);
      continue;
    }
    const gz = await gzipLayer(store, layer, compression.level, fetch);
    layers.push({ ...layer, mediaType: docker ? MediaTypes.dockerLayerGzip : MediaTypes.ociLayerGzip, digest: gz.digest, size: gz.size });
    changed = true;
  }
  if (!changed) return undefined;
  const written = await store.writeJson({ ...manifest, layers });
  return { mediaType: manifest.mediaType, digest: written.digest, size: written.size };
}

/** The gzip form of the plain layer `digest`: the remembered one when its blob is still stored. */
async function gzipLayer(store: Store, layer: Descriptor, level: number, fetch?: LayerFetch): Promise<CompressedLayer> {
  const digest = layer.digest;
  const memoId = `${digest}:gzip-${level}`;
  const known = await store.readMeta<CompressedLayer>('compressed-layers', memoId);
  if (known && (await store.blobSize(known.digest)) === known.size) return known;
  if (!(await store.hasBlob(digest))) await fetch?.([layer]);
  if (!(await store.hasBlob(digest))) {
    throw new KilnError(`layer ${digest} is not in the store at ${store.root}: pull or build the image again before pushing it`);
  }
  const writer = await store.createBlobWriter();
  try {
    for await (const chunk of parallelGzip(store.openBlob(digest), { level })) await writer.write(chunk);
    const info = await writer.commit();
    const made = { digest: info.digest, size: info.size };
    await store.writeMeta('compressed-layers', memoId, made);
    return made;
  } catch (err) {
    await writer.abort().catch(() => undefined);
    throw err;
  }
}

/**
 * Pushes the store's image `digest` to `refs` in its distribution form (gzip layers unless
 * `compression` says none), under a store lease, and records where the registry has it (`kiln
 * images --digests`, inspect's RepoDigests). A blob of an image a registry is known to have (a
 * pulled base, an earlier push) is mounted from there when the target is the same registry. A
 * reference with a digest names exact content, so it is pushed as stored.
 */
export async function pushToRegistry(
  store: ContentStore,
  registry: RegistryClient,
  digest: string,
  refs: ImageReference[],
  options: {
    compression?: PushCompression;
    onProgress?: TransferListener;
    /** Blob digest -> repositories ('domain/path') that hold it, besides what the store's records say. */
    sources?: ReadonlyMap<string, readonly string[]>;
  } = {},
): Promise<PushResult> {
  return store.withLease(async () => {
    const compression = refs.some((r) => r.digest !== undefined) ? { type: 'none' as const } : (options.compression ?? DEFAULT_PUSH_COMPRESSION);
    // A base layer the store never fetched is mounted from where it is; it is fetched (from
    // there) only when the target registry cannot mount it.
    const fetchLayers = layerFetcher(store, registry, options.sources);
    const form = await distributionForm(store, digest, compression, fetchLayers);
    const mountSources = await blobSources(store, (await collectImageBlobs(store, form)).blobs.map((b) => b.digest), options.sources);
    const pushed = await registry.push(store, form, refs, {
      mountSources,
      fetchMissing: (blob) => fetchLayers([blob]),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
    for (const ref of refs) await store.addImage(digest, `${repositoryName(ref)}@${pushed.digest}`);
    return pushed;
  });
}

