// The images of a store as docker shows them: each image (tagged or not) with its ID, tags,
// config, layers and size, and docker's rules for naming one (a tag, a full or short image ID,
// a digest). What `kiln images`, `inspect`, `history`, `tag`, `rmi` and the prunes work from.

import { KilnError } from '../errors.js';
import { isIndex } from '../oci/media-types.js';
import { hostPlatform, selectManifest } from '../oci/image.js';
import type { ImageConfig, ImageIndex, ImageManifest } from '../oci/types.js';
import { familiarName, formatReference, parseReference } from '../reference/index.js';
import type { LayerRecord } from '../contracts/blobs.js';
import type { ContentStore } from '../store/types.js';

export interface CatalogImage {
  /** What the refs name: the manifest, or the index of a multi-platform image. */
  digest: string;
  /** Docker's image ID: the config digest; for an index, the index digest (docker's containerd store). */
  id: string;
  /** The refs that name it, normalized (`docker.io/library/app:1`), sorted. */
  refs: string[];
  /** The same as docker prints them (`app:1`). */
  repoTags: string[];
  /** Where registries have it, as docker prints them (`registry.example.com/app@sha256:...`). */
  repoDigests: string[];
  /** When it entered the store (ms). */
  added: number;
  /** The config of this machine's platform (or the index's first). */
  config: ImageConfig;
  /** That platform's layers, bottom first. */
  layers: LayerRecord[];
  /** Platforms of a multi-platform image (os/arch[/variant]); empty for one manifest. */
  platforms: string[];
  /** Bytes of its layers in the store (every platform of an index), as `docker images` SIZE. */
  size: number;
}

/** No image in the store answers to `name`: docker's words, and where to look. */
export class NoSuchImageError extends KilnError {
  constructor(readonly imageName: string) {
    super(`No such image: ${imageName} (\`kiln images\` lists the images in the store)`);
  }
}

/** The image whose top digest is `digest` (with the given refs), or undefined when its manifest or config is not stored. */
export async function describeImage(store: ContentStore, digest: string, added: number, refs: string[], repoDigests: readonly string[] = []): Promise<CatalogImage | undefined> {
  if (!(await store.hasBlob(digest))) return undefined;
  const doc = await store.readJson<ImageManifest | ImageIndex>(digest);
  const platforms: string[] = [];
  let manifest: ImageManifest;
  let size = 0;
  if (isIndex(doc.mediaType) || 'manifests' in doc) {
    const index = doc as ImageIndex;
    for (const d of index.manifests) {
      if (d.platform) platforms.push([d.platform.os, d.platform.architecture, d.platform.variant].filter(Boolean).join('/'));
      if (await store.hasBlob(d.digest)) {
        const m = await store.readJson<ImageManifest>(d.digest);
        size += m.layers.reduce((n, l) => n + l.size, 0);
      }
    }
    let chosen;
    try {
      chosen = selectManifest(index, hostPlatform());
    } catch {
      chosen = index.manifests[0];
    }
    if (!chosen || !(await store.hasBlob(chosen.digest))) return undefined;
    manifest = await store.readJson<ImageManifest>(chosen.digest);
  } else {
    manifest = doc as ImageManifest;
    size = manifest.layers.reduce((n, l) => n + l.size, 0);
  }
  if (!(await store.hasBlob(manifest.config.digest))) return undefined;
  const config = await store.readJson<ImageConfig>(manifest.config.digest);
  const diffIds = config.rootfs?.diff_ids ?? [];
  const layers = manifest.layers.map((l, i) => ({ digest: l.digest, diffId: diffIds[i] ?? '', size: l.size, mediaType: l.mediaType }));
  const id = platforms.length ? digest : manifest.config.digest;
  const sorted = [...refs].sort();
  const familiar = (r: string) => familiarName(parseReference(r));
  return { digest, id, refs: sorted, repoTags: sorted.map(familiar), repoDigests: repoDigests.map(familiar), added, config, layers, platforms, size };
}

/** Every image of the store, newest first (by its config's created time, then by when it came). */
export async function listCatalog(store: ContentStore): Promise<CatalogImage[]> {
  const refs = await store.listRefs();
  const byDigest = new Map<string, string[]>();
  for (const r of refs) byDigest.set(r.digest, [...(byDigest.get(r.digest) ?? []), r.ref]);
  const images: CatalogImage[] = [];
  for (const record of await store.listImages()) {
    const image = await describeImage(store, record.digest, record.added, byDigest.get(record.digest) ?? [], record.repoDigests);
    if (image) images.push(image);
  }
  return images.sort((a, b) => createdMs(b) - createdMs(a) || b.added - a.added);
}

/** The config's created time (ms), else when the image came into the store. */
export function createdMs(image: CatalogImage): number {
  const t = image.config.created ? Date.parse(image.config.created) : NaN;
  return Number.isFinite(t) ? t : image.added;
}

const HEX = /^[0-9a-f]+$/;

/**
 * The image `name` names, with docker's rules: a reference whose tag the store has; else a full
 * image ID or digest (`sha256:...`, with or without the prefix); else a unique prefix of an image
 * ID. Throws NoSuchImageError, or a KilnError when a short ID fits several images.
 */
export function findImage(images: readonly CatalogImage[], name: string): CatalogImage {
  let ref: string | undefined;
  try {
    const parsed = parseReference(name);
    ref = formatReference(parsed);
    if (parsed.digest) {
      const byDigest = images.find((i) => i.digest === parsed.digest || i.id === parsed.digest);
      if (byDigest) return byDigest;
    }
  } catch {
    ref = undefined;
  }
  if (ref) {
    const tagged = images.find((i) => i.refs.includes(ref));
    if (tagged) return tagged;
  }
  const hex = name.startsWith('sha256:') ? name.slice(7) : name;
  if (HEX.test(hex)) {
    const exact = images.find((i) => i.id === `sha256:${hex}` || i.digest === `sha256:${hex}`);
    if (exact) return exact;
    const matches = images.filter((i) => i.id.slice(7).startsWith(hex));
    if (matches.length === 1) return matches[0]!;
    if (matches.length > 1) throw new KilnError(`the short image ID ${name} is ambiguous: it starts ${matches.length} image IDs; give more of it`);
  }
  throw new NoSuchImageError(name);
}

/** `app:1` -> the normalized ref the store keys it by (`docker.io/library/app:1`). */
export function normalizedRef(name: string): string {
  return formatReference(parseReference(name));
}
