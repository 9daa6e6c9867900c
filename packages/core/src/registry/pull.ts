// Pulling an image into the store: the manifest a reference names, down through any index to the
// platform wanted, then that manifest's config and layers, each verified. Whatever the store
// already has is not fetched again.

import { formatPlatform, isImageIndex, normalizeManifest, platformMatches, selectManifest } from '../oci/image.js';
import type { OciIndex, OciManifest } from '../oci/image.js';
import { defaultPlatform, parseImageConfig } from '../oci/content.js';
import type { ImageConfig, Platform } from '../oci/types.js';
import type { ImageReference } from '../reference/reference.js';
import type { BlobReader, BlobSink, Blobs } from '../contracts/blobs.js';
import { allOrFirstError } from './concurrency.js';
import { RegistryError } from './errors.js';
import { ownMediaType } from './fetch.js';
import type { FetchedManifest, Fetcher } from './fetch.js';
import { repoName } from './session.js';
import { TransferReport } from './progress.js';
import type { RepoRef, TransferListener } from './types.js';

export interface PulledImage {
  manifestDigest: string;
  /** The index the reference named, when it named one. */
  indexDigest?: string;
  config: ImageConfig;
}

type KnownManifest = FetchedManifest & { fromStore?: boolean };

/**
 * Resolves `ref`, stores its manifest (and the index, when it is one), then the manifest for
 * `platform` (default: linux on the host's architecture), its config and (unless `layers` is
 * false: the image as a reference, its layers fetched when needed) its layers. Does not tag.
 * `onProgress` hears of every manifest and blob (start, bytes as they stream, done).
 */
export async function pullImage(
  fetcher: Fetcher,
  ref: ImageReference,
  store: Blobs,
  options: { platform?: Platform; onProgress?: TransferListener; layers?: boolean },
): Promise<PulledImage> {
  const name = repoName(ref);
  const listener = options.onProgress;
  const reportManifest = (m: KnownManifest): void => {
    if (!listener) return;
    // Manifests are small and read whole: they are reported once they are in hand.
    const report = new TransferReport(listener, m.digest, m.bytes.length, 'manifest', name);
    report.start(m.fromStore ? 'exists' : 'pull');
    report.done(m.fromStore ? 0 : m.bytes.length);
  };
  const reference = ref.digest ?? ref.tag ?? 'latest';
  let current = await manifestFromStoreOrRegistry(fetcher, ref, reference, store);
  let indexDigest: string | undefined;
  let doc = parseManifest(current, ref, reference);
  await keepManifest(current, ref, store);
  reportManifest(current);
  for (let depth = 0; isImageIndex(doc); depth++) {
    if (depth > 4) throw new RegistryError(`pulling ${name}: image indexes are nested too deeply`, { registry: ref.domain, repository: ref.path });
    indexDigest ??= current.digest;
    let child;
    try {
      child = selectManifest(doc as OciIndex, options.platform ?? defaultPlatform());
    } catch (e) {
      throw new RegistryError(`pulling ${name}${ref.tag ? `:${ref.tag}` : ''}: ${(e as Error).message}`, {
        registry: ref.domain,
        repository: ref.path,
      });
    }
    current = await manifestFromStoreOrRegistry(fetcher, ref, child.digest, store);
    doc = parseManifest(current, ref, child.digest);
    await keepManifest(current, ref, store);
    reportManifest(current);
  }
  const manifest = doc as OciManifest;
  const ctxBase = { registry: ref.domain, repository: ref.path };
  await fetcher.fetchBlobToStore(ref, manifest.config.digest, store, manifest.config.size, listener ? { listener, kind: 'config' } : undefined);
  let config: ImageConfig;
  try {
    config = parseImageConfig(await store.readBlob(manifest.config.digest), manifest.config.digest);
  } catch (e) {
    throw new RegistryError(`pulling ${name}: ${(e as Error).message}`, ctxBase);
  }
  const wanted = options.platform;
  // An index chose by platform already; a single image can only be checked against its config.
  if (wanted && indexDigest === undefined) {
    const has: Platform = { os: config.os, architecture: config.architecture, ...(config.variant ? { variant: config.variant } : {}) };
    if (!platformMatches(wanted, has)) {
      throw new RegistryError(
        `pulling ${name}${ref.tag ? `:${ref.tag}` : ''}: the image is for ${formatPlatform(has)}, not ${formatPlatform(wanted)} ` +
          '(it is a single-platform image, not an index); pull it without --platform or push an image for that platform',
        ctxBase,
      );
    }
  }
  if (options.layers === false) {
    return indexDigest !== undefined ? { manifestDigest: current.digest, indexDigest, config } : { manifestDigest: current.digest, config };
  }
  // Foreign layers (Windows base layers with `urls`) are not distributed by registries.
  const layers = manifest.layers.filter((l) => !((l.urls?.length ?? 0) > 0 && /foreign|nondistributable/.test(l.mediaType)));
  // A layer listed twice is fetched (and reported) once.
  const unique = layers.filter((l, i) => layers.findIndex((o) => o.digest === l.digest) === i);
  const progress = listener ? { listener, kind: 'layer' as const } : undefined;
  await allOrFirstError(unique.map((l) => fetcher.fetchBlobToStore(ref, l.digest, store, l.size, progress)));
  return indexDigest !== undefined
    ? { manifestDigest: current.digest, indexDigest, config }
    : { manifestDigest: current.digest, config };
}

/** A manifest read from the registry, kept in the store once it parsed (by its verified digest). */
async function keepManifest(m: KnownManifest, repo: RepoRef, store: BlobSink): Promise<void> {
  if (m.fromStore) return;
  if (!m.digest.startsWith('sha256:')) {
    throw new RegistryError(`pulling ${repoName(repo)}: the store keeps sha256 digests only, the manifest is ${m.digest}`, {
      registry: repo.domain,
      repository: repo.path,
    });
  }
  await store.writeBlob(m.bytes, m.digest);
}

/** A manifest by digest comes from the store when it is there (a digest names fixed content). */
async function manifestFromStoreOrRegistry(fetcher: Fetcher, repo: RepoRef, reference: string, store: BlobReader): Promise<KnownManifest> {
  if (reference.startsWith('sha256:') && (await store.hasBlob(reference))) {
    const bytes = await store.readBlob(reference);
    return { digest: reference, mediaType: ownMediaType(bytes) ?? 'application/json', bytes, fromStore: true };
  }
  return fetcher.getManifest(repo, reference);
}

function parseManifest(m: FetchedManifest, repo: RepoRef, reference: string): OciManifest | OciIndex {
  try {
    return normalizeManifest(m.bytes, m.mediaType);
  } catch (e) {
    throw new RegistryError(`manifest ${JSON.stringify(reference)} of ${repoName(repo)} (${m.digest}): ${(e as Error).message}`, {
      registry: repo.domain,
      repository: repo.path,
    });
  }
}
