// OCI image layout (image-spec image-layout.md): a directory with `oci-layout`, `index.json` and
// `blobs/<alg>/<hex>`. Writing copies (hardlinks where it can) blobs out of the store and makes
// the result visible atomically; reading imports blobs into the store, each verified.

import { randomBytes } from 'node:crypto';
import { copyFile, link, lstat, mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { BlobFiles, BlobReader, BlobWriterFactory } from '../contracts/blobs.js';
import type { Locks } from '../contracts/locks.js';
import {
  collectImageBlobs,
  defaultPlatform,
  importFileBlob,
  readStoredConfig,
  readStoredDocument,
} from './content.js';
import type { ImageBlob, StoredDocument } from './content.js';
import { canonicalJson, digestHex, sha256Hex } from './digest.js';
import {
  CONTAINERD_IMAGE_NAME_ANNOTATION,
  OciError,
  REF_NAME_ANNOTATION,
  descriptor,
  indexFor,
  isImageIndex,
  normalizeManifest,
  selectManifest,
} from './image.js';
import type { OciDescriptor, OciIndex, OciManifest } from './image.js';
import { MediaTypes, isIndex, isManifest } from './media-types.js';
import type { ImageConfig, Platform } from './types.js';

export const OCI_LAYOUT_VERSION = '1.0.0';
export const OCI_LAYOUT_FILE = 'oci-layout';
export const OCI_INDEX_FILE = 'index.json';

/** The bytes of the `oci-layout` file Kiln writes. */
export function ociLayoutFileContent(): Buffer {
  return canonicalJson({ imageLayoutVersion: OCI_LAYOUT_VERSION });
}

export interface LayoutImage {
  /** A manifest or an index in the store. */
  manifestDigest: string;
  /** Written as `org.opencontainers.image.ref.name`; an entry with the same name is replaced. */
  refName?: string;
  /** More annotations for the index.json entry (e.g. `io.containerd.image.name`). */
  annotations?: Record<string, string>;
}

export interface WriteOciLayoutResult {
  /** The index.json written. */
  index: OciIndex;
  /** Blobs put into blobs/ by this call (those already there are not counted). */
  blobsWritten: number;
}

function randomSuffix(): string {
  return randomBytes(6).toString('hex');
}

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (e) {
    if (errno(e) === 'ENOENT') return false;
    throw e;
  }
}

/** Writes bytes to `path` via a temp file in the same directory and a rename. */
async function writeFileAtomic(path: string, data: Uint8Array): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${randomSuffix()}`);
  try {
    await writeFile(tmp, data, { mode: 0o644 });
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/**
 * Puts one store blob at `target`: a hardlink when the store is on the same filesystem, else a
 * copy (copyFile streams in the kernel, never through memory). Via a temp name and a rename, so a
 * reader never sees a partial blob. An existing file of the right size is kept.
 */
async function placeBlob(store: BlobFiles, blob: ImageBlob, target: string): Promise<boolean> {
  try {
    const st = await stat(target);
    if (st.isFile() && st.size === blob.size) return false;
  } catch (e) {
    if (errno(e) !== 'ENOENT') throw e;
  }
  const src = store.blobPath(blob.digest);
  const tmp = join(dirname(target), `.${basename(target)}.tmp-${randomSuffix()}`);
  try {
    try {
      await link(src, tmp);
    } catch (e) {
      const code = errno(e);
      if (code === 'ENOENT') throw e;
      // EXDEV (other filesystem), EPERM/EACCES (protected hardlinks), EMLINK, ENOTSUP, ...
      await copyFile(src, tmp);
    }
    await rename(tmp, target);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  return true;
}

/** The platform of an image manifest, from its config; undefined for an index or a non-image. */
async function manifestPlatform(store: BlobReader, doc: StoredDocument): Promise<Platform | undefined> {
  if (isImageIndex(doc.doc)) return undefined;
  const m = doc.doc;
  if (m.config.mediaType !== MediaTypes.ociConfig && m.config.mediaType !== MediaTypes.dockerConfig) return undefined;
  const cfg = await readStoredConfig(store, m.config.digest);
  if (typeof cfg.architecture !== 'string' || typeof cfg.os !== 'string') return undefined;
  const p: Platform = { architecture: cfg.architecture, os: cfg.os };
  if (cfg['os.version']) p['os.version'] = cfg['os.version'];
  if (cfg.variant) p.variant = cfg.variant;
  return p;
}

async function readLayoutIndex(dir: string): Promise<OciIndex> {
  const path = join(dir, OCI_INDEX_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if (errno(e) === 'ENOENT') throw new OciError(`${dir} is not an OCI image layout: it has no index.json`);
    throw e;
  }
  let doc: OciIndex | OciManifest;
  try {
    doc = normalizeManifest(text, MediaTypes.ociIndex);
  } catch (e) {
    throw new OciError(`${path} is not a valid image index: ${(e as Error).message}`);
  }
  if (!isImageIndex(doc)) throw new OciError(`${path} is not an image index`);
  return doc;
}

async function checkLayoutFile(dir: string): Promise<void> {
  const path = join(dir, OCI_LAYOUT_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if (errno(e) === 'ENOENT') throw new OciError(`${dir} is not an OCI image layout: it has no oci-layout file`);
    throw e;
  }
  let version: unknown;
  try {
    version = (JSON.parse(text) as { imageLayoutVersion?: unknown }).imageLayoutVersion;
  } catch (e) {
    throw new OciError(`${path} is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof version !== 'string' || !/^1\.\d+\.\d+$/.test(version)) {
    throw new OciError(`${path}: unsupported imageLayoutVersion ${JSON.stringify(version)} (Kiln reads 1.x layouts)`);
  }
}

/** The path of a blob inside a layout; the digest is validated, so the path stays inside `dir`. */
export function layoutBlobPath(dir: string, digest: string): string {
  if (!digest.startsWith('sha256:')) {
    throw new OciError(`unsupported digest algorithm in ${JSON.stringify(digest)}: Kiln handles sha256 blobs only`);
  }
  let hex: string;
  try {
    hex = digestHex(digest);
  } catch {
    throw new OciError(`invalid digest ${JSON.stringify(digest)} in the image layout`);
  }
  return join(dir, 'blobs', 'sha256', hex);
}

/**
 * Writes images from the store as an OCI image layout at `dir`, with every blob each image
 * reaches (index children, manifests, configs, layers; foreign layers the store lacks are left
 * out). A new or empty `dir` is built beside it and renamed into place; an existing layout gets
 * the missing blobs and then a new index.json (temp file + rename, written last), in which an
 * entry with the same ref name is replaced and the other entries are kept.
 */
export async function writeOciLayout(
  dir: string,
  store: BlobReader & BlobFiles & Locks,
  images: readonly LayoutImage[],
  /**
   * Layers left out (listed by the manifests, not written) because a registry holds them: digest
   * -> the repositories ('domain/path') that have them. Each image's entry in index.json names
   * its own (LAYER_SOURCES_ANNOTATION), so a reader of the layout knows where to fetch them.
   */
  omit: ReadonlyMap<string, readonly string[]> = new Map(),
): Promise<WriteOciLayoutResult> {
  if (images.length === 0) throw new OciError('writeOciLayout: no images given');

  // Gather everything first, so that a missing blob fails before anything is written.
  const entries: OciDescriptor[] = [];
  const blobs = new Map<string, ImageBlob>();
  for (const img of images) {
    const { root, blobs: reachable } = await collectImageBlobs(store, img.manifestDigest);
    const omitted: Record<string, readonly string[]> = {};
    for (const b of reachable) {
      if (b.role === 'layer' && omit.has(b.digest)) {
        omitted[b.digest] = omit.get(b.digest)!;
        continue;
      }
      if (blobs.has(b.digest)) continue;
      if (!(await store.hasBlob(b.digest))) {
        if (b.optional) continue;
        throw new OciError(
          `${b.role} ${b.digest} of image ${img.manifestDigest} is not in the store; pull or rebuild the image`,
        );
      }
      blobs.set(b.digest, b);
    }
    const annotations: Record<string, string> = { ...img.annotations };
    if (img.refName !== undefined) {
      if (img.refName === '') throw new OciError('an OCI layout ref name must not be empty');
      annotations[REF_NAME_ANNOTATION] = img.refName;
    }
    if (Object.keys(omitted).length) annotations[LAYER_SOURCES_ANNOTATION] = JSON.stringify(omitted);
    const platform = await manifestPlatform(store, root);
    entries.push(
      descriptor({
        mediaType: root.mediaType,
        digest: root.digest,
        size: root.size,
        annotations,
        ...(platform ? { platform } : {}),
      }),
    );
  }

  // Processes sharing the store (parallel Nx tasks) take turns on one layout directory, so that
  // no index.json update is lost.
  const lock = `oci-layout-${sha256Hex(resolve(dir)).slice(0, 32)}`;
  return store.withLock(lock, () => placeLayout(dir, store, blobs, entries));
}

async function placeLayout(
  dir: string,
  store: BlobFiles,
  blobs: ReadonlyMap<string, ImageBlob>,
  entries: readonly OciDescriptor[],
): Promise<WriteOciLayoutResult> {
  let st;
  try {
    st = await stat(dir);
  } catch (e) {
    if (errno(e) !== 'ENOENT') throw e;
  }
  const fresh = st === undefined || (st.isDirectory() && (await readdir(dir)).length === 0);
  if (st !== undefined && !st.isDirectory()) throw new OciError(`${dir} exists and is not a directory`);

  if (fresh) {
    await mkdir(dirname(dir), { recursive: true });
    const tmp = join(dirname(dir), `.${basename(dir)}.tmp-${randomSuffix()}`);
    try {
      await mkdir(join(tmp, 'blobs', 'sha256'), { recursive: true });
      let written = 0;
      for (const b of blobs.values()) {
        if (await placeBlob(store, b, layoutBlobPath(tmp, b.digest))) written++;
      }
      const index = mergeEntries([], entries);
      await writeFile(join(tmp, OCI_LAYOUT_FILE), ociLayoutFileContent(), { mode: 0o644 });
      await writeFile(join(tmp, OCI_INDEX_FILE), canonicalJson(index), { mode: 0o644 });
      try {
        await rename(tmp, dir);
      } catch (e) {
        const code = errno(e);
        if (code === 'ENOTEMPTY' || code === 'EEXIST') {
          throw new OciError(`${dir} was created by someone else while Kiln wrote the layout; try again`);
        }
        throw e;
      }
      return { index, blobsWritten: written };
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      throw e;
    }
  }

  // An existing directory: it must already be an OCI layout.
  if (!(await exists(join(dir, OCI_LAYOUT_FILE)))) {
    throw new OciError(
      `${dir} is not empty and is not an OCI image layout (no oci-layout file); choose a new or empty directory`,
    );
  }
  await checkLayoutFile(dir);
  const existing = (await exists(join(dir, OCI_INDEX_FILE))) ? await readLayoutIndex(dir) : indexFor([]);
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  let written = 0;
  for (const b of blobs.values()) {
    if (await placeBlob(store, b, layoutBlobPath(dir, b.digest))) written++;
  }
  const index = mergeEntries(existing.manifests, entries, existing.annotations);
  await writeFileAtomic(join(dir, OCI_INDEX_FILE), canonicalJson(index));
  return { index, blobsWritten: written };
}

/**
 * index.json after adding `added` to `current`: an entry with the ref name of an added one is
 * replaced in place (further entries with that name dropped); an unnamed entry already present
 * with the same digest is not added twice; the rest is appended in order.
 */
function mergeEntries(
  current: readonly OciDescriptor[],
  added: readonly OciDescriptor[],
  annotations?: Record<string, string>,
): OciIndex {
  const list: (OciDescriptor | undefined)[] = [...current];
  for (const entry of added) {
    const name = entry.annotations?.[REF_NAME_ANNOTATION];
    if (name !== undefined) {
      let placed = false;
      for (let i = 0; i < list.length; i++) {
        if (list[i]?.annotations?.[REF_NAME_ANNOTATION] !== name) continue;
        list[i] = placed ? undefined : entry;
        placed = true;
      }
      if (!placed) list.push(entry);
    } else if (!list.some((d) => d && d.digest === entry.digest && d.annotations?.[REF_NAME_ANNOTATION] === undefined)) {
      list.push(entry);
    }
  }
  return indexFor(
    list.filter((d): d is OciDescriptor => d !== undefined),
    annotations,
  );
}

export interface ReadOciLayoutOptions {
  /** When the chosen entry is an index: the platform to take (default: this machine's, on linux). */
  platform?: Platform | string;
}

export interface ReadOciLayoutResult {
  /** The image manifest imported (for an index entry, the platform's manifest). */
  manifestDigest: string;
  manifest: OciManifest;
  config: ImageConfig;
  configDigest: string;
  /** When the chosen entry was an index: its digest (the index is imported too). */
  indexDigest?: string;
  /** The ref name of the chosen entry, if it has one. */
  refName?: string;
  /** Layers the layout left out, in a registry (LAYER_SOURCES_ANNOTATION): digest -> repositories. */
  layerSources?: Map<string, string[]>;
}

function entryNames(d: OciDescriptor): string[] {
  const out: string[] = [];
  const ref = d.annotations?.[REF_NAME_ANNOTATION];
  const full = d.annotations?.[CONTAINERD_IMAGE_NAME_ANNOTATION];
  if (ref !== undefined) out.push(ref);
  if (full !== undefined) out.push(full);
  return out;
}

function describeEntries(manifests: readonly OciDescriptor[]): string {
  const names = manifests.map((d) => d.annotations?.[REF_NAME_ANNOTATION] ?? `(unnamed) ${d.digest}`);
  return names.map((n) => JSON.stringify(n)).join(', ');
}

function chooseEntry(dir: string, index: OciIndex, refName: string | undefined, platform: Platform | string): OciDescriptor {
  const all = index.manifests;
  if (all.length === 0) throw new OciError(`the OCI layout ${dir} has no images (its index.json lists none)`);
  let candidates: OciDescriptor[];
  if (refName !== undefined) {
    candidates = all.filter((d) => entryNames(d).includes(refName));
    if (candidates.length === 0) {
      throw new OciError(`the OCI layout ${dir} has no image named ${JSON.stringify(refName)}; it has ${describeEntries(all)}`);
    }
  } else {
    candidates = [...all];
    const names = new Set(all.map((d) => d.annotations?.[REF_NAME_ANNOTATION] ?? ''));
    const digests = new Set(all.map((d) => d.digest));
    if (digests.size > 1 && (names.size > 1 || !all.every((d) => d.platform))) {
      throw new OciError(
        `the OCI layout ${dir} has ${all.length} images (${describeEntries(all)}); name the one to use (oci-layout://DIR:NAME)`,
      );
    }
  }
  const first = candidates[0] as OciDescriptor;
  if (new Set(candidates.map((d) => d.digest)).size === 1) return first;
  // Several images under one name (or none): one per platform, as `skopeo copy --all` can write.
  if (candidates.every((d) => d.platform)) {
    return selectManifest({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: candidates }, platform);
  }
  throw new OciError(
    `the OCI layout ${dir} has ${candidates.length} different images named ${JSON.stringify(refName)}; remove the extra entries`,
  );
}

/**
 * Imports an image from the OCI layout at `dir` into the store. `refName` picks the index.json
 * entry by `org.opencontainers.image.ref.name` (or `io.containerd.image.name`); without it the
 * layout must hold one image. Every blob is streamed into the store and verified against its
 * digest and size; digests are validated before they become paths, so nothing outside `dir` is
 * read. For an index entry, the manifest for `options.platform` is taken.
 */
export async function readOciLayout(
  dir: string,
  store: BlobReader & BlobWriterFactory,
  refName?: string,
  options: ReadOciLayoutOptions = {},
): Promise<ReadOciLayoutResult> {
  await checkLayoutFile(dir);
  const index = await readLayoutIndex(dir);
  const platform = options.platform ?? defaultPlatform();
  const entry = chooseEntry(dir, index, refName, platform);
  const chosenName = entry.annotations?.[REF_NAME_ANNOTATION];

  let desc: OciDescriptor = entry;
  let indexDigest: string | undefined;
  let doc: StoredDocument;
  for (let depth = 0; ; depth++) {
    if (depth > 8) throw new OciError(`image index nesting in ${dir} is too deep`);
    await importFileBlob(store, layoutBlobPath(dir, desc.digest), desc.digest, desc.size);
    doc = await readStoredDocument(
      store,
      desc.digest,
      isIndex(desc.mediaType) || isManifest(desc.mediaType) ? desc.mediaType : undefined,
    );
    if (!isImageIndex(doc.doc)) break;
    indexDigest ??= desc.digest;
    desc = selectManifest(doc.doc, platform);
  }
  const manifest = doc.doc;
  const layerSources = await importManifestContent(dir, store, manifest, entryLayerSources(dir, entry));
  const config = await readStoredConfig(store, manifest.config.digest);
  if (config.rootfs.diff_ids.length !== manifest.layers.length) {
    throw new OciError(
      `image ${desc.digest} in ${dir} is inconsistent: ${manifest.layers.length} layers but ${config.rootfs.diff_ids.length} diff_ids in its config`,
    );
  }
  const result: ReadOciLayoutResult = {
    manifestDigest: desc.digest,
    manifest,
    config,
    configDigest: manifest.config.digest,
  };
  if (indexDigest !== undefined) result.indexDigest = indexDigest;
  if (chosenName !== undefined) result.refName = chosenName;
  if (layerSources.size) result.layerSources = layerSources;
  return result;
}

/**
 * Annotation of an index.json entry written with left-out layers: the JSON of
 * {digest: [repository, ...]}, the registries' repositories ('domain/path') that hold them.
 */
export const LAYER_SOURCES_ANNOTATION = 'dev.kiln.image.layer-sources';

/** The left-out layers an index.json entry names (LAYER_SOURCES_ANNOTATION). */
function entryLayerSources(dir: string, entry: OciDescriptor): Map<string, string[]> {
  const raw = entry.annotations?.[LAYER_SOURCES_ANNOTATION];
  if (raw === undefined) return new Map();
  let doc: unknown;
  try {
    doc = JSON.parse(raw);
  } catch {
    doc = undefined;
  }
  const valid = (v: unknown): v is string[] => Array.isArray(v) && v.every((r) => typeof r === 'string');
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc) || !Object.values(doc).every(valid)) {
    throw new OciError(`${join(dir, OCI_INDEX_FILE)}: the ${LAYER_SOURCES_ANNOTATION} annotation is not a JSON object of digest -> repositories`);
  }
  return new Map(Object.entries(doc as Record<string, string[]>));
}

/**
 * Imports a manifest's config and layers from the layout (foreign layers only where present, and
 * `referenced` ones, in a registry, only where present). Returns the referenced layers it left
 * in their registry, with their repositories.
 */
async function importManifestContent(
  dir: string,
  store: BlobReader & BlobWriterFactory,
  manifest: OciManifest,
  referenced: ReadonlyMap<string, string[]>,
): Promise<Map<string, string[]>> {
  await importFileBlob(store, layoutBlobPath(dir, manifest.config.digest), manifest.config.digest, manifest.config.size);
  const left = new Map<string, string[]>();
  for (const layer of manifest.layers) {
    const path = layoutBlobPath(dir, layer.digest);
    if ((layer.urls?.length ?? 0) > 0 && !(await exists(path))) continue; // a foreign layer, fetched from its urls
    const repos = referenced.get(layer.digest);
    if (repos && !(await exists(path))) {
      left.set(layer.digest, repos); // in a registry: fetched or mounted when needed
      continue;
    }
    await importFileBlob(store, path, layer.digest, layer.size);
  }
  return left;
}

/**
 * Imports one image of the OCI layout at `dir` whole: for an index, every platform's manifest
 * and blobs (what a push of the index needs), where readOciLayout takes one platform. `refName`
 * picks the entry as readOciLayout does. Returns the entry's digest and media type.
 */
export async function importOciLayoutImage(
  dir: string,
  store: BlobReader & BlobWriterFactory,
  refName?: string,
): Promise<{ digest: string; mediaType: string; layerSources?: Map<string, string[]> }> {
  await checkLayoutFile(dir);
  const index = await readLayoutIndex(dir);
  const entry = chooseEntry(dir, index, refName, defaultPlatform());
  // Layers the layout left out, in a registry (written with `omit`): fetched or mounted when needed.
  const referenced = entryLayerSources(dir, entry);
  const left = new Map<string, string[]>();
  const visit = async (desc: OciDescriptor, depth: number): Promise<void> => {
    if (depth > 8) throw new OciError(`image index nesting in ${dir} is too deep`);
    await importFileBlob(store, layoutBlobPath(dir, desc.digest), desc.digest, desc.size);
    const doc = await readStoredDocument(store, desc.digest, isIndex(desc.mediaType) || isManifest(desc.mediaType) ? desc.mediaType : undefined);
    if (!isImageIndex(doc.doc)) {
      for (const [digest, repos] of await importManifestContent(dir, store, doc.doc, referenced)) left.set(digest, repos);
      return;
    }
    for (const child of doc.doc.manifests) {
      if (isIndex(child.mediaType) || isManifest(child.mediaType)) await visit(child, depth + 1);
    }
  };
  await visit(entry, 0);
  return { digest: entry.digest, mediaType: entry.mediaType, ...(left.size ? { layerSources: left } : {}) };
}
