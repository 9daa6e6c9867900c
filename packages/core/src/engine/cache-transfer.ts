// Build-cache export and import (`--cache-to` / `--cache-from`), as buildx users write them.
//
// The cache travels as one OCI image manifest whose config blob (media type
// `application/vnd.kiln.cache.config.v1+json`) is
//   { "version": 1, "records": { "<key>": { "layer": {digest,diffId,size,mediaType} | null } } }
// and whose layers are exactly the layer blobs those records name, followed by the filesystem
// indexes of the image's base (media type FS_INDEX_MEDIA_TYPE, gzip JSON, annotated with the
// chain ID they describe): with one, a COPY that misses on a machine with an empty store learns
// the base's directories without downloading the base. `type=local` keeps it in an OCI image
// layout (index.json entry with ref name "cache"); `type=registry` pushes it to a tag. An export
// holds only what the build used, so the cache never grows run over run.

import { randomBytes } from 'node:crypto';
import { copyFile, link, mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { gunzipSync, gzipSync } from 'node:zlib';
import { basename, dirname, join, resolve } from 'node:path';
import { KilnError } from '../errors.js';
import { importFileBlob } from '../oci/content.js';
import { canonicalJson, chainIds, digestHex, isDigest, sha256Digest } from '../oci/digest.js';
import { REF_NAME_ANNOTATION } from '../oci/image.js';
import { MediaTypes } from '../oci/media-types.js';
import { parseReference, repositoryName, type ImageReference } from '../reference/index.js';
import type { RegistryClient } from '../registry/client.js';
import { ManifestNotFoundError } from '../registry/errors.js';
import type { CacheRecord, LayerRecord } from '../contracts/index.js';
import type { ContentStore } from '../store/types.js';
import type { ImageConfig, ImageIndex, ImageManifest } from '../oci/types.js';
import { blobSources, layerFetcher, rememberBlobSources } from './remote-layers.js';
import { keepFsIndex, keptFsIndex } from './rootfs.js';

export const CACHE_CONFIG_MEDIA_TYPE = 'application/vnd.kiln.cache.config.v1+json';
/** A filesystem index in a cache manifest: gzip of the JSON [path, node] list rootfs.ts keeps. */
export const FS_INDEX_MEDIA_TYPE = 'application/vnd.kiln.fs-index.v1.json+gzip';
/** The chain ID (of the top layer of the stack) a filesystem index describes. */
const CHAIN_ID_ANNOTATION = 'dev.kiln.chain-id';
/** An index larger than this unpacked is refused (a damaged or hostile cache). */
const MAX_FS_INDEX_BYTES = 64 << 20;
/** The ref name of the cache manifest in a local cache layout. */
export const CACHE_REF_NAME = 'cache';

export type CacheSpec =
  | { type: 'local'; /** dest (export) or src (import) directory */ path: string; ignoreError?: boolean }
  | {
      type: 'registry';
      /** REGISTRY/REPO:TAG */
      ref: string;
      /** min: the final stage's records; for now Kiln exports every record the build used either way. */
      mode?: 'min' | 'max';
      ignoreError?: boolean;
    };

export interface CacheTransferResult {
  /** Where: the directory or the reference. */
  location: string;
  records: number;
  layers: number;
  /** Filesystem indexes of base images carried along. */
  indexes?: number;
}

/** A filesystem index as the cache carries it. */
interface IndexBlob {
  chainId: string;
  bytes: Buffer;
}

interface CacheConfig {
  version: 1;
  records: Record<string, { layer: LayerRecord | null }>;
}

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

interface CacheManifest {
  schemaVersion: 2;
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
}

class CacheSpecError extends KilnError {}

// ---------------------------------------------------------------------------
// Parsing `type=...,k=v`

/**
 * Parses a `--cache-to` / `--cache-from` value. A value without `=` is a registry reference (as
 * buildx's `--cache-from REF`). Throws with a message meant for a usage error.
 */
export function parseCacheSpec(flag: '--cache-to' | '--cache-from', spec: string): CacheSpec {
  const fields = new Map<string, string>();
  if (!spec.includes('=')) {
    fields.set('type', 'registry');
    fields.set('ref', spec);
  } else {
    for (const part of spec.split(',')) {
      const eq = part.indexOf('=');
      if (eq <= 0) throw new CacheSpecError(`${flag} "${spec}": "${part}" is not KEY=VALUE`);
      fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
    }
  }
  const type = fields.get('type');
  const pathKey = flag === '--cache-to' ? 'dest' : 'src';
  const help =
    flag === '--cache-to'
      ? 'use type=local,dest=DIR or type=registry,ref=REGISTRY/REPO:TAG[,mode=min|max]'
      : 'use type=local,src=DIR or type=registry,ref=REGISTRY/REPO:TAG';
  // buildx options that change nothing here: Kiln always writes an OCI image manifest.
  const ignored = new Set(['image-manifest', 'oci-mediatypes', 'compression', 'compression-level', 'force-compression']);
  const allowed = new Set(['type', 'ignore-error', ...ignored]);
  let ignoreError: boolean | undefined;
  const ie = fields.get('ignore-error');
  if (ie !== undefined) {
    if (ie !== 'true' && ie !== 'false') throw new CacheSpecError(`${flag} "${spec}": ignore-error must be true or false`);
    ignoreError = ie === 'true';
  }
  const checkKeys = (more: string[]): void => {
    for (const key of fields.keys()) {
      if (!allowed.has(key) && !more.includes(key)) throw new CacheSpecError(`${flag} "${spec}": unknown option "${key}"; ${help}`);
    }
  };
  if (type === 'local') {
    const path = fields.get(pathKey);
    if (!path) {
      const other = pathKey === 'dest' ? 'src' : 'dest';
      const hint = fields.has(other) ? ` (${other}= is for ${flag === '--cache-to' ? '--cache-from' : '--cache-to'})` : '';
      throw new CacheSpecError(`${flag} "${spec}": type=local needs ${pathKey}=DIR${hint}`);
    }
    checkKeys([pathKey, 'mode']);
    checkMode(flag, spec, fields.get('mode'));
    return { type: 'local', path: resolve(path), ...(ignoreError !== undefined ? { ignoreError } : {}) };
  }
  if (type === 'registry') {
    checkKeys(['ref', 'mode']);
    const ref = fields.get('ref');
    if (!ref) throw new CacheSpecError(`${flag} "${spec}": type=registry needs ref=REGISTRY/REPO:TAG`);
    let parsed: ImageReference;
    try {
      parsed = parseReference(ref);
    } catch (err) {
      throw new CacheSpecError(`${flag} "${spec}": ${(err as Error).message}`);
    }
    if (!parsed.tag) throw new CacheSpecError(`${flag} "${spec}": ref needs a tag (REGISTRY/REPO:TAG), not a digest`);
    const mode = checkMode(flag, spec, fields.get('mode'));
    return { type: 'registry', ref, ...(mode ? { mode } : {}), ...(ignoreError !== undefined ? { ignoreError } : {}) };
  }
  throw new CacheSpecError(
    `${flag} "${spec}": ${type === undefined ? 'no type given' : `type=${type} is not supported`}; ${help}`,
  );
}

function checkMode(flag: string, spec: string, mode: string | undefined): 'min' | 'max' | undefined {
  if (mode === undefined) return undefined;
  if (mode !== 'min' && mode !== 'max') throw new CacheSpecError(`${flag} "${spec}": mode must be min or max, not "${mode}"`);
  return mode;
}

export function describeCacheSpec(spec: CacheSpec): string {
  return spec.type === 'local' ? spec.path : spec.ref;
}

// ---------------------------------------------------------------------------
// The cache document

function cacheDocument(records: readonly { key: string; record: CacheRecord }[]): {
  config: Buffer;
  layers: LayerRecord[];
  records: number;
} {
  const sorted = [...records].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const doc: CacheConfig = { version: 1, records: {} };
  const layers = new Map<string, LayerRecord>();
  for (const { key, record } of sorted) {
    const layer = record.layer ? { digest: record.layer.digest, diffId: record.layer.diffId, size: record.layer.size, mediaType: record.layer.mediaType } : null;
    doc.records[key] = { layer };
    if (layer && !layers.has(layer.digest)) layers.set(layer.digest, layer);
  }
  return { config: canonicalJson(doc), layers: [...layers.values()], records: sorted.length };
}

function manifestBytes(config: Buffer, layers: LayerRecord[], indexes: readonly IndexBlob[]): Buffer {
  const manifest: CacheManifest = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    config: { mediaType: CACHE_CONFIG_MEDIA_TYPE, digest: sha256Digest(config), size: config.length },
    layers: [
      ...layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
      ...indexes.map((i) => ({ mediaType: FS_INDEX_MEDIA_TYPE, digest: sha256Digest(i.bytes), size: i.bytes.length, annotations: { [CHAIN_ID_ANNOTATION]: i.chainId } })),
    ],
  };
  return canonicalJson(manifest);
}

/**
 * The kept filesystem indexes of every layer stack of `image` (each platform's): in practice its
 * base's, kept when a build read the base, as the cache carries them.
 */
async function fsIndexBlobs(store: ContentStore, image: string | undefined): Promise<IndexBlob[]> {
  if (image === undefined) return [];
  const doc = await store.readJson<ImageManifest | ImageIndex>(image);
  const manifests = 'manifests' in doc ? await Promise.all(doc.manifests.map((m) => store.readJson<ImageManifest>(m.digest))) : [doc];
  const out = new Map<string, Buffer>();
  for (const manifest of manifests) {
    const config = await store.readJson<ImageConfig>(manifest.config.digest);
    for (const chainId of chainIds(config.rootfs?.diff_ids ?? [])) {
      if (out.has(chainId)) continue;
      const kept = await keptFsIndex(store, chainId);
      if (kept) out.set(chainId, gzipSync(canonicalJson(kept)));
    }
  }
  return [...out].map(([chainId, bytes]) => ({ chainId, bytes }));
}

/** The manifest's filesystem index descriptors, each with the chain ID it describes. */
function indexDescriptors(manifest: CacheManifest, where: string): (Descriptor & { chainId: string })[] {
  return manifest.layers
    .filter((d) => d.mediaType === FS_INDEX_MEDIA_TYPE)
    .map((d) => {
      const chainId = d.annotations?.[CHAIN_ID_ANNOTATION];
      if (!chainId || !isDigest(chainId)) throw new KilnError(`${where}: filesystem index ${d.digest} names no chain ID`);
      return { ...d, chainId };
    });
}

/** Keeps an index the cache carried (verified bytes), unless the store has one for that chain ID. */
async function keepCarriedIndex(store: ContentStore, chainId: string, bytes: Buffer, where: string): Promise<void> {
  if (await keptFsIndex(store, chainId)) return;
  let entries: unknown;
  try {
    entries = JSON.parse(gunzipSync(bytes, { maxOutputLength: MAX_FS_INDEX_BYTES }).toString('utf8'));
  } catch (e) {
    throw new KilnError(`${where}: filesystem index of ${chainId} cannot be read: ${(e as Error).message}`);
  }
  if (!(await keepFsIndex(store, chainId, entries))) throw new KilnError(`${where}: filesystem index of ${chainId} is not an index`);
}

function parseManifest(bytes: Buffer, where: string): CacheManifest {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new KilnError(`${where}: the cache manifest is not JSON`);
  }
  const m = doc as Partial<CacheManifest> | null;
  if (!m || typeof m !== 'object' || !m.config || !Array.isArray(m.layers)) throw new KilnError(`${where}: not an image manifest`);
  if (m.config.mediaType !== CACHE_CONFIG_MEDIA_TYPE) {
    throw new KilnError(`${where}: not a Kiln build cache (config media type ${JSON.stringify(m.config.mediaType)}, expected ${CACHE_CONFIG_MEDIA_TYPE})`);
  }
  for (const d of [m.config, ...m.layers]) {
    if (!d || !isDigest(d.digest) || typeof d.size !== 'number') throw new KilnError(`${where}: the cache manifest has a bad descriptor`);
  }
  return m as CacheManifest;
}

function parseConfig(bytes: Buffer, manifest: CacheManifest, where: string): CacheConfig {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new KilnError(`${where}: the cache config is not JSON`);
  }
  const c = doc as Partial<CacheConfig> | null;
  if (!c || typeof c !== 'object' || c.version !== 1 || !c.records || typeof c.records !== 'object') {
    throw new KilnError(`${where}: the cache config is not a version 1 Kiln cache`);
  }
  const inManifest = new Set(manifest.layers.map((l) => l.digest));
  for (const [key, entry] of Object.entries(c.records)) {
    if (!/^[0-9a-f]{64}$/.test(key) || !entry || typeof entry !== 'object') throw new KilnError(`${where}: bad cache record ${JSON.stringify(key)}`);
    const layer = entry.layer;
    if (layer === null) continue;
    if (!layer || !isDigest(layer.digest) || !isDigest(layer.diffId) || typeof layer.size !== 'number' || typeof layer.mediaType !== 'string') {
      throw new KilnError(`${where}: bad layer in cache record ${key}`);
    }
    if (!inManifest.has(layer.digest)) throw new KilnError(`${where}: cache record ${key} names layer ${layer.digest}, which the cache does not hold`);
  }
  return c as CacheConfig;
}

/** Writes the records into the store; a record the store already has (with its layer) is kept. */
async function putRecords(store: ContentStore, config: CacheConfig): Promise<number> {
  const now = Date.now();
  let n = 0;
  for (const [key, { layer }] of Object.entries(config.records)) {
    const have = await store.getCache(key);
    if (have && (have.layer === null || (await store.hasBlob(have.layer.digest)))) continue;
    await store.putCache(key, { layer, created: now });
    n++;
  }
  return n;
}

// ---------------------------------------------------------------------------
// type=local

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

async function placeBlob(store: ContentStore, digest: string, dest: string): Promise<void> {
  const src = store.blobPath(digest);
  try {
    await link(src, dest);
  } catch (e) {
    if (errno(e) === 'EEXIST') return;
    await copyFile(src, dest);
  }
}

/**
 * Replaces DIR with an OCI layout of exactly these records and their layers: written to a
 * sibling temp directory, then renamed over DIR (the old DIR is renamed aside first and removed).
 */
export async function exportCacheLocal(
  store: ContentStore,
  dir: string,
  records: readonly { key: string; record: CacheRecord }[],
  /** Fetches layers a registry cache import left in the registry. */
  registry?: RegistryClient,
  /** The image the build made: its base's filesystem index goes along. */
  image?: string,
): Promise<CacheTransferResult> {
  const { config, layers, records: count } = cacheDocument(records);
  const indexes = await fsIndexBlobs(store, image);
  const manifest = manifestBytes(config, layers, indexes);
  const manifestDigest = sha256Digest(manifest);
  await layerFetcher(store, registry)(layers);
  for (const l of layers) {
    if (!(await store.hasBlob(l.digest))) throw new KilnError(`cannot export build cache to ${dir}: layer ${l.digest} is not in the store`);
  }
  const parent = dirname(dir);
  await mkdir(parent, { recursive: true });
  const suffix = randomBytes(6).toString('hex');
  const tmp = join(parent, `${basename(dir)}.tmp-${suffix}`);
  const old = join(parent, `${basename(dir)}.old-${suffix}`);
  try {
    const blobs = join(tmp, 'blobs', 'sha256');
    await mkdir(blobs, { recursive: true });
    for (const l of layers) await placeBlob(store, l.digest, join(blobs, digestHex(l.digest)));
    for (const i of indexes) await writeFile(join(blobs, digestHex(sha256Digest(i.bytes))), i.bytes);
    await writeFile(join(blobs, digestHex(sha256Digest(config))), config);
    await writeFile(join(blobs, digestHex(manifestDigest)), manifest);
    const index = {
      schemaVersion: 2,
      mediaType: MediaTypes.ociIndex,
      manifests: [{ mediaType: MediaTypes.ociManifest, digest: manifestDigest, size: manifest.length, annotations: { [REF_NAME_ANNOTATION]: CACHE_REF_NAME } }],
    };
    await writeFile(join(tmp, 'index.json'), canonicalJson(index));
    await writeFile(join(tmp, 'oci-layout'), canonicalJson({ imageLayoutVersion: '1.0.0' }));
    let movedAside = false;
    try {
      await rename(dir, old);
      movedAside = true;
    } catch (e) {
      if (errno(e) !== 'ENOENT') throw e;
    }
    try {
      await rename(tmp, dir);
    } catch (e) {
      if (movedAside) await rename(old, dir).catch(() => undefined);
      throw e;
    }
    if (movedAside) await rm(old, { recursive: true, force: true });
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw new KilnError(`cannot export build cache to ${dir}: ${(e as Error).message}`);
  }
  return { location: dir, records: count, layers: layers.length, indexes: indexes.length };
}

/** Copies a local cache's records and blobs into the store. A missing or empty DIR imports nothing. */
export async function importCacheLocal(store: ContentStore, dir: string): Promise<CacheTransferResult> {
  const none = { location: dir, records: 0, layers: 0 };
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (e) {
    if (errno(e) === 'ENOENT') return none;
    if (errno(e) === 'ENOTDIR') throw new KilnError(`build cache ${dir} is not a directory`);
    throw e;
  }
  if (entries.length === 0) return none;
  const where = `build cache ${dir} is corrupt`;
  let index: { manifests?: Descriptor[] };
  try {
    index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as typeof index;
  } catch (e) {
    throw new KilnError(`${where}: cannot read index.json (${errno(e) === 'ENOENT' ? 'missing' : (e as Error).message})`);
  }
  const manifests = Array.isArray(index?.manifests) ? index.manifests : [];
  const entry = manifests.find((m) => m?.annotations?.[REF_NAME_ANNOTATION] === CACHE_REF_NAME) ?? (manifests.length === 1 ? manifests[0] : undefined);
  if (!entry || !isDigest(entry.digest)) throw new KilnError(`${where}: index.json has no manifest named "${CACHE_REF_NAME}"`);
  const blobPath = (digest: string) => join(dir, 'blobs', digest.slice(0, digest.indexOf(':')), digestHex(digest));
  const readVerified = async (digest: string, what: string): Promise<Buffer> => {
    let bytes: Buffer;
    try {
      bytes = await readFile(blobPath(digest));
    } catch (e) {
      throw new KilnError(`${where}: ${what} ${digest} ${errno(e) === 'ENOENT' ? 'is missing' : `cannot be read: ${(e as Error).message}`}`);
    }
    if (sha256Digest(bytes) !== digest) throw new KilnError(`${where}: ${what} ${digest} does not match its digest`);
    return bytes;
  };
  const manifest = parseManifest(await readVerified(entry.digest, 'manifest'), where);
  const config = parseConfig(await readVerified(manifest.config.digest, 'cache config'), manifest, where);
  const indexes = indexDescriptors(manifest, where);
  for (const i of indexes) await keepCarriedIndex(store, i.chainId, await readVerified(i.digest, 'filesystem index'), where);
  const layers = manifest.layers.filter((d) => d.mediaType !== FS_INDEX_MEDIA_TYPE);
  for (const layer of layers) {
    try {
      await importFileBlob(store, blobPath(layer.digest), layer.digest, layer.size);
    } catch (e) {
      throw new KilnError(`${where}: ${(e as Error).message}`);
    }
  }
  await putRecords(store, config);
  return { location: dir, records: Object.keys(config.records).length, layers: layers.length, indexes: indexes.length };
}

// ---------------------------------------------------------------------------
// type=registry

function repoOf(ref: string): { repo: ImageReference; tag: string } {
  const repo = parseReference(ref);
  if (!repo.tag) throw new KilnError(`cache reference ${ref} needs a tag`);
  return { repo, tag: repo.tag };
}

/** Pushes the layers, the cache config and the manifest (to the tag), in that order. */
export async function exportCacheRegistry(
  store: ContentStore,
  registry: RegistryClient,
  ref: string,
  records: readonly { key: string; record: CacheRecord }[],
  /** The image the build made: its base's filesystem index goes along. */
  image?: string,
): Promise<CacheTransferResult> {
  const { repo, tag } = repoOf(ref);
  const { config, layers, records: count } = cacheDocument(records);
  const indexes = await fsIndexBlobs(store, image);
  const manifest = manifestBytes(config, layers, indexes);
  const configInfo = await store.writeBlob(config);
  // A layer imported from a registry cache and never needed here is not in the store: the
  // target has it, a mount gives it, or it is fetched first.
  const fetch = layerFetcher(store, registry);
  const sources = await blobSources(store, layers.map((l) => l.digest));
  await Promise.all(
    layers.map((l) => registry.uploadBlob(repo, store, l.digest, { mountFrom: sources.get(l.digest) ?? [], size: l.size, fetchMissing: () => fetch([l]) })),
  );
  for (const i of indexes) await registry.uploadBlob(repo, store, (await store.writeBlob(i.bytes)).digest);
  await registry.uploadBlob(repo, store, configInfo.digest);
  await registry.putManifest(repo, tag, manifest, MediaTypes.ociManifest);
  return { location: ref, records: count, layers: layers.length, indexes: indexes.length };
}

/**
 * Imports a registry cache: its records, with their layers left in the registry (remembered
 * there) until a step, an output or a push needs their bytes. No such tag returns undefined (the
 * caller warns: a first run has no cache yet).
 */
export async function importCacheRegistry(
  store: ContentStore,
  registry: RegistryClient,
  ref: string,
): Promise<CacheTransferResult | undefined> {
  const { repo, tag } = repoOf(ref);
  let got: { digest: string; bytes: Buffer };
  try {
    got = await registry.getManifest(repo, tag);
  } catch (e) {
    if (e instanceof ManifestNotFoundError) return undefined;
    throw e;
  }
  const where = `build cache ${ref}`;
  const manifest = parseManifest(got.bytes, where);
  await registry.fetchBlobToStore(repo, manifest.config.digest, store, manifest.config.size);
  const config = parseConfig(await store.readBlob(manifest.config.digest), manifest, where);
  // Indexes are small and read now (a COPY that misses may need one); layers stay in the registry.
  const indexes = indexDescriptors(manifest, where);
  for (const i of indexes) {
    if (await keptFsIndex(store, i.chainId)) continue;
    await registry.fetchBlobToStore(repo, i.digest, store, i.size);
    await keepCarriedIndex(store, i.chainId, await store.readBlob(i.digest), where);
  }
  const layers = manifest.layers.filter((d) => d.mediaType !== FS_INDEX_MEDIA_TYPE);
  await rememberBlobSources(store, repositoryName(repo), layers.map((l) => l.digest));
  await putRecords(store, config);
  return { location: ref, records: Object.keys(config.records).length, layers: layers.length, indexes: indexes.length };
}

// ---------------------------------------------------------------------------
// What the builder calls

export interface CacheTransferContext {
  store: ContentStore;
  registry?: RegistryClient;
  warn: (message: string) => void;
  output: (description: string) => void;
}

function needRegistry(ctx: CacheTransferContext, ref: string): RegistryClient {
  if (!ctx.registry) throw new KilnError(`cache ${ref}: type=registry needs a registry client`);
  return ctx.registry;
}

export async function importCaches(ctx: CacheTransferContext, specs: readonly CacheSpec[]): Promise<void> {
  for (const spec of specs) {
    try {
      if (spec.type === 'local') {
        const r = await importCacheLocal(ctx.store, spec.path);
        if (r.records > 0) ctx.output(`imported build cache from ${r.location} (${r.records} records, ${r.layers} layers)`);
      } else {
        const r = await importCacheRegistry(ctx.store, needRegistry(ctx, spec.ref), spec.ref);
        if (r) ctx.output(`imported build cache from ${r.location} (${r.records} records, ${r.layers} layers)`);
        else ctx.warn(`no build cache at ${spec.ref} yet (first run?): building without it`);
      }
    } catch (e) {
      if (!spec.ignoreError) throw e;
      ctx.warn(`importing build cache from ${describeCacheSpec(spec)} failed, ignored: ${(e as Error).message}`);
    }
  }
}

export async function exportCaches(
  ctx: CacheTransferContext,
  specs: readonly CacheSpec[],
  records: readonly { key: string; record: CacheRecord }[],
  /** The image the build made (its base's filesystem index goes along). */
  image?: string,
): Promise<void> {
  for (const spec of specs) {
    try {
      const r =
        spec.type === 'local'
          ? await exportCacheLocal(ctx.store, spec.path, records, ctx.registry, image)
          : await exportCacheRegistry(ctx.store, needRegistry(ctx, spec.ref), spec.ref, records, image);
      ctx.output(`exported build cache to ${r.location} (${r.records} records, ${r.layers} layers)`);
    } catch (e) {
      if (!spec.ignoreError) throw e;
      ctx.warn(`exporting build cache to ${describeCacheSpec(spec)} failed, ignored: ${(e as Error).message}`);
    }
  }
}

