// Reading image documents out of the store and walking everything an image references;
// shared by the OCI layout and docker-archive readers and writers.

import { createReadStream } from 'node:fs';
import { lstat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { BlobInfo, BlobReader, BlobWriterFactory } from '../contracts/blobs.js';
import { digestHex } from './digest.js';
import { OciError, hostPlatform, isImageIndex, normalizeManifest, selectManifest } from './image.js';
import type { OciIndex, OciManifest } from './image.js';
import { isIndex, isManifest } from './media-types.js';
import type { Descriptor, ImageConfig, Platform } from './types.js';

/** A manifest or index read from the store: original bytes and media type, plus the OCI shape. */
export interface StoredDocument {
  digest: string;
  size: number;
  bytes: Buffer;
  /** The document's own media type (Docker or OCI), falling back to the OCI one for its kind. */
  mediaType: string;
  doc: OciManifest | OciIndex;
}

/** Reads, verifies and normalizes a manifest or an index from the store. */
export async function readStoredDocument(
  store: BlobReader,
  digest: string,
  mediaTypeHint?: string,
): Promise<StoredDocument> {
  if (!(await store.hasBlob(digest))) throw new OciError(`manifest ${digest} is not in the store`);
  const bytes = await store.readBlob(digest);
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw new OciError(`blob ${digest} is not a JSON manifest: ${(e as Error).message}`);
  }
  const doc = normalizeManifest(raw, mediaTypeHint);
  const own = (raw as { mediaType?: unknown }).mediaType;
  const mediaType = typeof own === 'string' && own !== '' ? own : doc.mediaType;
  return { digest, size: bytes.length, bytes, mediaType, doc };
}

/** Reads and checks an image config from the store. */
export async function readStoredConfig(store: BlobReader, digest: string): Promise<ImageConfig> {
  if (!(await store.hasBlob(digest))) throw new OciError(`image config ${digest} is not in the store`);
  return parseImageConfig(await store.readBlob(digest), digest);
}

/** Parses image config bytes, checking the fields Kiln relies on. */
export function parseImageConfig(bytes: Uint8Array, what: string): ImageConfig {
  let cfg: unknown;
  try {
    cfg = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (e) {
    throw new OciError(`image config ${what} is not valid JSON: ${(e as Error).message}`);
  }
  const c = cfg as Partial<ImageConfig> | null;
  if (typeof c !== 'object' || c === null || Array.isArray(c)) throw new OciError(`image config ${what} is not a JSON object`);
  const rootfs = c.rootfs as { type?: unknown; diff_ids?: unknown } | undefined;
  if (
    typeof rootfs !== 'object' ||
    rootfs === null ||
    !Array.isArray(rootfs.diff_ids) ||
    !rootfs.diff_ids.every((d) => typeof d === 'string')
  ) {
    throw new OciError(`image config ${what} has no rootfs.diff_ids list`);
  }
  return c as ImageConfig;
}

/** One blob an image needs. `optional`: a foreign layer (with urls) a sink may leave out. */
export interface ImageBlob extends Descriptor {
  role: 'index' | 'manifest' | 'config' | 'layer';
  optional: boolean;
}

/**
 * Every blob reachable from a manifest or index digest (index children, manifests, configs,
 * layers), each once, in a fixed order: depth first, parents before children.
 */
export async function collectImageBlobs(
  store: BlobReader,
  rootDigest: string,
): Promise<{ root: StoredDocument; blobs: ImageBlob[] }> {
  const seen = new Map<string, ImageBlob>();
  const blobs: ImageBlob[] = [];
  const add = (b: ImageBlob): boolean => {
    if (seen.has(b.digest)) return false;
    seen.set(b.digest, b);
    blobs.push(b);
    return true;
  };
  const visit = async (digest: string, hint: string | undefined, depth: number): Promise<StoredDocument> => {
    if (depth > 8) throw new OciError(`image index nesting is too deep at ${digest}`);
    const d = await readStoredDocument(store, digest, hint);
    const isIdx = isImageIndex(d.doc);
    add({ mediaType: d.mediaType, digest, size: d.size, role: isIdx ? 'index' : 'manifest', optional: false });
    if (isImageIndex(d.doc)) {
      for (const child of d.doc.manifests) {
        if (seen.has(child.digest)) continue;
        if (!(await store.hasBlob(child.digest))) {
          throw new OciError(
            `${child.digest} (${child.mediaType}), listed in index ${digest}, is not in the store; pull all platforms first`,
          );
        }
        if (isManifest(child.mediaType) || isIndex(child.mediaType)) await visit(child.digest, child.mediaType, depth + 1);
        else add({ ...child, role: 'manifest', optional: false });
      }
    } else {
      const m = d.doc;
      add({ ...m.config, role: 'config', optional: false });
      for (const l of m.layers) add({ ...l, role: 'layer', optional: (l.urls?.length ?? 0) > 0 });
    }
    return d;
  };
  const root = await visit(rootDigest, undefined, 0);
  return { root, blobs };
}

/**
 * Resolves a manifest digest that may name an index to an image manifest: for an index, the
 * entry for `platform` (default: the host's architecture on linux).
 */
export async function resolveImageManifest(
  store: BlobReader,
  digest: string,
  platform?: Platform | string,
): Promise<{ manifest: StoredDocument & { doc: OciManifest }; index?: StoredDocument & { doc: OciIndex } }> {
  let d = await readStoredDocument(store, digest);
  let index: (StoredDocument & { doc: OciIndex }) | undefined;
  for (let depth = 0; isImageIndex(d.doc); depth++) {
    if (depth > 8) throw new OciError(`image index nesting is too deep at ${digest}`);
    index ??= d as StoredDocument & { doc: OciIndex };
    const child = selectManifest(d.doc, platform ?? defaultPlatform());
    d = await readStoredDocument(store, child.digest, child.mediaType);
  }
  const manifest = d as StoredDocument & { doc: OciManifest };
  return index ? { manifest, index } : { manifest };
}

/** The host's architecture with os linux: what container images on this machine are for. */
export function defaultPlatform(): Platform {
  return { ...hostPlatform(), os: 'linux' };
}

/** Writes a stream into the store through a BlobWriter, verified against `expectedDigest`. */
export async function streamIntoStore(
  store: BlobWriterFactory,
  source: Readable | AsyncIterable<Uint8Array>,
  expectedDigest?: string,
): Promise<BlobInfo> {
  const writer = await store.createBlobWriter();
  try {
    for await (const chunk of source) await writer.write(chunk as Uint8Array);
    return await writer.commit(expectedDigest);
  } catch (e) {
    await writer.abort().catch(() => undefined);
    throw e;
  }
}

/**
 * Imports a file into the store, streaming, verified against `digest` (and `size` when given).
 * Skips the copy when the store already has the blob.
 */
export async function importFileBlob(
  store: BlobReader & BlobWriterFactory,
  path: string,
  digest: string,
  size?: number,
): Promise<BlobInfo> {
  digestHex(digest);
  if (await store.hasBlob(digest)) {
    const have = await store.blobSize(digest);
    return { digest, size: have ?? size ?? 0 };
  }
  let st;
  try {
    st = await lstat(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new OciError(`blob ${digest} is missing (${path})`);
    throw e;
  }
  if (!st.isFile()) throw new OciError(`blob ${digest} is not a regular file (${path})`);
  if (size !== undefined && st.size !== size) {
    throw new OciError(`blob ${digest} has ${st.size} bytes but its descriptor says ${size} (${path})`);
  }
  try {
    return await streamIntoStore(store, createReadStream(path), digest);
  } catch (e) {
    if (e instanceof OciError) throw e;
    throw new OciError(`blob ${digest} could not be imported from ${path}: ${(e as Error).message}`);
  }
}
