// Base images as references. A FROM of a registry image stores its manifest and config only; its
// layers stay in the registry until something needs their bytes: RUN (the overlay's lowers),
// COPY --from an image, --chown by name and any COPY or WORKDIR that must see the base's files
// (the filesystem index, kept afterwards by chain ID), outputs and archives that hold every
// blob, and a push to a registry that cannot mount them. Where a layer can be fetched from comes
// from the store's own records: every image a registry is known to have (repoDigests) names the
// repositories of its blobs.

import { KilnError } from '../errors.js';
import { RegistryError } from '../registry/errors.js';
import { collectImageBlobs } from '../oci/content.js';
import { parseReference } from '../reference/index.js';
import type { LayerRecord } from '../contracts/blobs.js';
import type { RegistryClient } from '../registry/client.js';
import type { ContentStore } from '../store/types.js';
import { blobsOfImages } from './garbage.js';

/** Fetches into the store the layers it lacks; a no-op for those it has. */
export type LayerFetch = (layers: readonly Pick<LayerRecord, 'digest' | 'size'>[]) => Promise<void>;

/** Store meta kind: a blob the store was told a repository holds (a registry cache's layers), by digest. */
const BLOB_SOURCES = 'blob-sources';

/** Remembers that `repo` ('domain/path') holds these blobs, which the store does not fetch now. */
export async function rememberBlobSources(store: ContentStore, repo: string, digests: readonly string[]): Promise<void> {
  for (const digest of digests) {
    const known = (await store.readMeta<string[]>(BLOB_SOURCES, digest)) ?? [];
    if (!known.includes(repo)) await store.writeMeta(BLOB_SOURCES, digest, [...known, repo]);
  }
}

/** The repositories a remembered blob is in (rememberBlobSources), or none. */
export async function rememberedSources(store: ContentStore, digest: string): Promise<string[]> {
  const known = await store.readMeta<unknown>(BLOB_SOURCES, digest);
  return Array.isArray(known) ? known.filter((r): r is string => typeof r === 'string') : [];
}

/** Blob digest -> the repositories ('domain/path') that have it: every stored image's blobs, by its repoDigests. */
export async function knownBlobSources(store: ContentStore): Promise<Map<string, string[]>> {
  const sources = new Map<string, string[]>();
  for (const image of await store.listImages()) {
    if (!image.repoDigests?.length) continue;
    // Each repository has the image as it was pushed there (or pulled from there): the blobs of
    // that manifest, not of the store's plain form (a push gzips the layers).
    for (const repoDigest of image.repoDigests) {
      const at = repoDigest.lastIndexOf('@');
      const repo = repoDigest.slice(0, at);
      for (const blob of await blobsOfImages(store, [repoDigest.slice(at + 1)])) {
        const known = sources.get(blob) ?? [];
        if (!known.includes(repo)) known.push(repo);
        sources.set(blob, known);
      }
    }
  }
  return sources;
}

/**
 * Where each of `digests` can be fetched or mounted from ('domain/path'): `extra` first (an Nx
 * image folder's referenced layers), then the repositories of stored images, then the ones
 * remembered by rememberBlobSources. A digest no one names is left out.
 */
export async function blobSources(
  store: ContentStore,
  digests: Iterable<string>,
  extra?: ReadonlyMap<string, readonly string[]>,
): Promise<Map<string, string[]>> {
  const known = await knownBlobSources(store);
  const out = new Map<string, string[]>();
  for (const digest of digests) {
    const repos = new Set([...(extra?.get(digest) ?? []), ...(known.get(digest) ?? []), ...(await rememberedSources(store, digest))]);
    if (repos.size) out.set(digest, [...repos]);
  }
  return out;
}

/**
 * A LayerFetch over `registry` (none: a missing layer is an error saying how to get it). Each
 * layer is fetched once however many steps ask for it at the same time.
 */
export function layerFetcher(
  store: ContentStore,
  registry: RegistryClient | undefined,
  /** Where layers are besides what the store's records say (an Nx image folder's referenced layers). */
  extraSources?: ReadonlyMap<string, readonly string[]>,
  /** When it aborts, every wait on a fetch ends with its reason (the download itself goes on). */
  signal?: AbortSignal,
): LayerFetch {
  const running = new Map<string, Promise<void>>();
  const fetchOne = async (layer: Pick<LayerRecord, 'digest' | 'size'>, sources: readonly string[]): Promise<void> => {
    if (sources.length === 0) {
      throw new KilnError(
        `layer ${layer.digest} is not in the Kiln store at ${store.root}, and no image there says which registry has it: ` +
          'pull the base image again (kiln pull NAME@DIGEST, as kiln images --digests lists it), or build with --pull',
      );
    }
    if (!registry) {
      throw new KilnError(
        `layer ${layer.digest} is in ${sources[0]}, not in the Kiln store at ${store.root}: pull its image from there ` +
          '(kiln pull NAME@DIGEST, as kiln images --digests lists it) first',
      );
    }
    let lastError: unknown;
    const gone: string[] = [];
    for (const source of sources) {
      try {
        await registry.fetchBlobToStore(parseReference(source), layer.digest, store, layer.size);
        return;
      } catch (err) {
        lastError = err;
        if (err instanceof RegistryError && err.status === 404) gone.push(source);
      }
    }
    // A registry cache imported earlier names the layer, but its repository no longer has it.
    const caches = gone.length === sources.length ? await rememberedSources(store, layer.digest) : [];
    if (caches.length) {
      throw new KilnError(
        `layer ${layer.digest} of the build cache imported from ${caches.join(', ')} is no longer there (HTTP 404): ` +
          'build again without that --cache-from, or with --no-cache',
      );
    }
    throw lastError;
  };
  return async (layers) => {
    const wanted = new Map(layers.map((l) => [l.digest, l]));
    const missing = (await Promise.all([...wanted.values()].map(async (l) => ((await store.hasBlob(l.digest)) ? undefined : l)))).filter((l) => l !== undefined);
    if (missing.length === 0) return;
    // The store's records are read once per call, and only when a layer is missing.
    const sources = await blobSources(store, missing.map((l) => l.digest), extraSources);
    await Promise.all(
      missing.map(async (layer) => {
        let pending = running.get(layer.digest);
        if (!pending) {
          pending = fetchOne(layer, sources.get(layer.digest) ?? []).finally(() => running.delete(layer.digest));
          pending.catch(() => undefined); // reported to every caller that waits for it
          running.set(layer.digest, pending);
        }
        await (signal ? untilAborted(pending, signal) : pending);
      }),
    );
  };
}

/** Every layer of the image `digest` (each platform's, for an index), fetched when missing. */
export async function fetchImageLayers(store: ContentStore, digest: string, fetch: LayerFetch): Promise<void> {
  const { blobs } = await collectImageBlobs(store, digest);
  await fetch(blobs.filter((b) => b.role === 'layer' && !b.optional));
}

/** `work`, or a rejection with the signal's reason as soon as `signal` aborts (the work goes on). */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const stop = () => reject(signal.reason);
    signal.addEventListener('abort', stop, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', stop));
  });
}
