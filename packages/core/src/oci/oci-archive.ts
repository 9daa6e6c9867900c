// Image archives as one tar, the sinks of `kiln save`: the OCI image layout in a tar (what
// containerd's `ctr export`, `docker save` with the containerd store (Docker 25+) and
// `skopeo copy ... oci-archive:` write): oci-layout, index.json and blobs/sha256/<hex>, one
// index.json entry per tag with `io.containerd.image.name` (the full name) and
// `org.opencontainers.image.ref.name` (the tag), as containerd writes them; an index (a
// multi-platform image) goes in whole. Also what both archive writers share (the `docker save`
// one is in docker-archive.ts): tar members as `docker save` writes them, the image list, and the
// file sink (temp file + rename). Archives are written, never held in memory: each blob streams
// from the store into the tar. Reading both kinds back is docker-archive.ts's loadImageArchive.

import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { writeTar } from '../archive/tar.js';
import type { TarEntry } from '../archive/tar.js';
import type { BlobReader } from '../contracts/blobs.js';
import { formatReference, parseReference } from '../reference/index.js';
import type { ImageReference } from '../reference/index.js';
import { collectImageBlobs } from './content.js';
import type { ImageBlob } from './content.js';
import { canonicalJson, digestHex } from './digest.js';
import { CONTAINERD_IMAGE_NAME_ANNOTATION, OciError, REF_NAME_ANNOTATION, descriptor, indexFor } from './image.js';
import type { OciDescriptor, OciIndex } from './image.js';
import { ociLayoutFileContent } from './layout.js';

/** One image to put in an archive. */
export interface ArchiveImage {
  /** A manifest or an index in the store. */
  digest: string;
  /** The tags to name it by (`app:1`, `ghcr.io/o/app:2`); none for an image saved by ID or digest. */
  tags: readonly string[];
  /** How the user named it, for messages (default: the digest). */
  name?: string;
}

/** An archive ready to be written: everything it needs was found; `chunks()` streams its bytes (once). */
export interface PreparedArchive {
  chunks(): AsyncIterable<Buffer>;
}

/** A member of an archive Kiln writes: root-owned, mtime the epoch, 0755 directories, 0644 files (the same images, the same bytes). */
export function archiveMember(path: string, body?: Uint8Array | AsyncIterable<Uint8Array>, size = 0): TarEntry {
  const type = body === undefined ? 'dir' : 'file';
  return { header: { path, type, mode: type === 'dir' ? 0o755 : 0o644, uid: 0, gid: 0, size, mtime: 0 }, body };
}

/** `blobs/sha256/<hex>`: where a blob goes in an archive. */
export function archiveBlobPath(digest: string): string {
  return `blobs/sha256/${digestHex(digest)}`;
}

/** A tag an archive names an image by; a digest reference is refused (an archive names images by tag). */
export function archiveTag(tag: string): ImageReference {
  const ref = parseReference(tag);
  if (ref.digest !== undefined) {
    throw new OciError(`a docker archive can only name images by tag, not by digest: ${JSON.stringify(tag)}`);
  }
  return ref;
}

/**
 * Writes an archive's bytes to `file` through a temp file beside it and a rename (missing parent
 * directories are made), so `file` is either the whole archive or untouched. Returns its size.
 */
export async function writeArchiveFile(file: string, chunks: AsyncIterable<Uint8Array>): Promise<number> {
  const st = await stat(file).catch(() => undefined);
  if (st?.isDirectory()) throw new OciError(`${file} is a directory: give the name of the archive file to write`);
  await mkdir(dirname(file), { recursive: true });
  const tmp = join(dirname(file), `.${basename(file)}.tmp-${randomBytes(6).toString('hex')}`);
  const out = createWriteStream(tmp, { mode: 0o644 });
  try {
    await pipeline(Readable.from(chunks, { objectMode: false }), out);
    await rename(tmp, file);
  } catch (e) {
    out.destroy();
    await rm(tmp, { force: true });
    throw e;
  }
  return out.bytesWritten;
}

/** The blobs of an image that must be in an archive; a missing one is an error naming the image. */
async function requiredBlobs(store: BlobReader, image: ArchiveImage): Promise<{ root: OciDescriptor; blobs: ImageBlob[] }> {
  const name = image.name ?? image.digest;
  let collected;
  try {
    collected = await collectImageBlobs(store, image.digest);
  } catch (e) {
    if (e instanceof OciError) throw new OciError(`image ${name}: ${e.message}`);
    throw e;
  }
  const blobs: ImageBlob[] = [];
  for (const b of collected.blobs) {
    const size = await store.blobSize(b.digest);
    if (size === undefined) {
      if (b.optional) continue; // a foreign layer: fetched from its urls by whoever runs the image
      throw new OciError(`image ${name}: ${b.role} ${b.digest} is not in the store; pull or load the image again`);
    }
    if (size !== b.size) {
      throw new OciError(`image ${name}: ${b.role} ${b.digest} has ${size} bytes in the store but its descriptor says ${b.size}`);
    }
    blobs.push(b);
  }
  const { root } = collected;
  return { root: { mediaType: root.mediaType, digest: root.digest, size: root.size }, blobs };
}

/** index.json entries for an image: one per tag, annotated as containerd does; one bare entry when untagged. */
export function indexEntries(root: OciDescriptor, tags: readonly string[]): OciDescriptor[] {
  const refs = [...new Set(tags)].map((t) => archiveTag(t));
  const seen = new Set<string>();
  const entries: OciDescriptor[] = [];
  for (const ref of refs) {
    const full = formatReference(ref);
    if (seen.has(full)) continue;
    seen.add(full);
    entries.push(
      descriptor({
        ...root,
        annotations: { [CONTAINERD_IMAGE_NAME_ANNOTATION]: full, [REF_NAME_ANNOTATION]: ref.tag ?? 'latest' },
      }),
    );
  }
  if (entries.length === 0) entries.push(descriptor(root));
  return entries;
}

/**
 * Prepares an OCI image-layout archive of `images` from the store: every blob each image reaches
 * (for an index, every platform; foreign layers the store lacks are left out), each once;
 * index.json with one entry per tag (`io.containerd.image.name` = the full name,
 * `org.opencontainers.image.ref.name` = the tag, as containerd and Docker 25+ write them) and a
 * bare entry for an untagged image. Entries sorted (directories, blobs by digest, index.json,
 * oci-layout), mtime the epoch, owner root: the same images and tags give the same bytes. Every
 * blob is checked before anything is written.
 */
export async function prepareOciArchive(store: BlobReader, images: readonly ArchiveImage[]): Promise<PreparedArchive & { index: OciIndex }> {
  if (images.length === 0) throw new OciError('no images to save');
  const blobs = new Map<string, ImageBlob>();
  const entries: OciDescriptor[] = [];
  for (const image of images) {
    const { root, blobs: needed } = await requiredBlobs(store, image);
    for (const b of needed) if (!blobs.has(b.digest)) blobs.set(b.digest, b);
    entries.push(...indexEntries(root, image.tags));
  }
  const index = indexFor(entries);
  function* members(): Generator<TarEntry> {
    yield archiveMember('blobs');
    yield archiveMember('blobs/sha256');
    for (const digest of [...blobs.keys()].sort()) {
      const b = blobs.get(digest) as ImageBlob;
      yield archiveMember(archiveBlobPath(digest), store.openBlob(digest), b.size);
    }
    const indexBytes = canonicalJson(index);
    const layoutBytes = ociLayoutFileContent();
    yield archiveMember('index.json', indexBytes, indexBytes.length);
    yield archiveMember('oci-layout', layoutBytes, layoutBytes.length);
  }
  return { index, chunks: () => writeTar(members()) };
}
