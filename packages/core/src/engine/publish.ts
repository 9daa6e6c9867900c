// What every build does with the image it made, whether one manifest or an index of several
// platforms: name it with the tags, write the outputs, export the build cache.
// Also the context every cache import and export of a build runs in.

import { KilnError } from '../errors.js';
import { writeDockerArchive } from '../oci/docker-archive.js';
import { writeOciLayout } from '../oci/layout.js';
import { familiarName, formatReference, parseReference } from '../reference/index.js';
import type { CacheRecord } from '../contracts/cache-index.js';
import type { ContentStore } from '../store/types.js';
import { exportCaches, type CacheTransferContext } from './cache-transfer.js';
import { blobSources, fetchImageLayers, layerFetcher } from './remote-layers.js';
import { collectImageBlobs } from '../oci/content.js';
import type { BuildOptions } from './types.js';

/** How a build's cache transfers reach the store, the registry and the build's events. */
export function cacheTransferContext(store: ContentStore, options: Pick<BuildOptions, 'registry' | 'onEvent'>): CacheTransferContext {
  return {
    store,
    registry: options.registry,
    warn: (message) => options.onEvent?.({ type: 'warning', message }),
    output: (description) => options.onEvent?.({ type: 'output', description }),
  };
}

/**
 * Tags the store's image `digest`, writes `options.outputs` and exports the build cache; returns
 * the tags, and the layers an output referenced instead of holding.
 */
export async function publishImage(
  store: ContentStore,
  digest: string,
  options: Pick<BuildOptions, 'tags' | 'outputs' | 'cacheTo'>,
  cacheRecords: readonly { key: string; record: CacheRecord }[],
  ctx: CacheTransferContext,
): Promise<{ tags: string[]; referencedLayers?: { digest: string; repositories: string[] }[] }> {
  const tags: string[] = [];
  // Listed by `kiln images` even untagged (`<none>`), as docker lists a build's image.
  await store.addImage(digest);
  for (const tag of options.tags ?? []) {
    const ref = formatReference(parseReference(tag));
    await store.setRef(ref, digest);
    tags.push(ref);
  }
  // Layers the build took from a registry base (not made by it), for outputs that reference them.
  const referenced = options.outputs?.some((o) => o.type === 'oci' && o.referenceBaseLayers) ? await registryBaseLayers(store, digest, cacheRecords) : undefined;
  // An output holds every other blob: base layers still in their registry are fetched first.
  if (options.outputs?.length) {
    const fetch = layerFetcher(store, ctx.registry);
    const skip = options.outputs.every((o) => o.type === 'oci' && o.referenceBaseLayers) ? referenced : undefined;
    await fetchImageLayers(store, digest, (layers) => fetch(layers.filter((l) => !skip?.has(l.digest))));
  }
  for (const output of options.outputs ?? []) {
    if (output.type === 'oci') {
      // The layout's ref name is the first tag's tag part (`app:1.0` -> `1.0`), as buildx writes it.
      const refName = tags[0] ? parseReference(tags[0]).tag : undefined;
      await writeOciLayout(output.dest, store, [{ manifestDigest: digest, refName }], output.referenceBaseLayers ? referenced : undefined);
    } else {
      const repoTags = tags.map((t) => familiarName(parseReference(t)));
      await writeDockerArchive(output.dest, store, digest, repoTags);
    }
    ctx.output(`exported ${output.type} image to ${output.dest}`);
  }
  if (options.cacheTo?.length) await exportCaches(ctx, options.cacheTo, cacheRecords, digest);
  return referenced?.size ? { tags, referencedLayers: [...referenced].map(([d, repositories]) => ({ digest: d, repositories })) } : { tags };
}

/**
 * The image's layers that a registry holds (by the store's records, or as an image folder's
 * referenced layers remembered when a FROM read it) and this build did not make.
 */
async function registryBaseLayers(
  store: ContentStore,
  digest: string,
  cacheRecords: readonly { record: CacheRecord }[],
): Promise<Map<string, string[]>> {
  const made = new Set(cacheRecords.flatMap((r) => (r.record.layer ? [r.record.layer.digest] : [])));
  const { blobs } = await collectImageBlobs(store, digest);
  return blobSources(store, blobs.filter((b) => b.role === 'layer' && !made.has(b.digest)).map((b) => b.digest));
}

/** Refuses, before any work, outputs that cannot hold an image of several platforms. */
export function checkMultiPlatformOutputs(options: Pick<BuildOptions, 'outputs'>, platforms: readonly string[]): void {
  if (options.outputs?.some((o) => o.type === 'docker')) {
    throw new KilnError(
      `--output type=docker holds one platform, but the build is for ${platforms.join(',')}: ` +
        'use --output type=oci,dest=DIR (an image index), or build one platform per docker archive',
    );
  }
}
