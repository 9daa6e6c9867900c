// Blobs: content named by its sha256 digest. Each interface is one way of using them; a caller
// asks for the ones it uses (the layer writer only opens writers, a layout writer reads and
// links), and the store in store/ provides them all.

import type { Readable, Writable } from 'node:stream';

export interface BlobInfo {
  digest: string;
  size: number;
}

/** A layer blob as the image and the build cache name it: stored digest, diffID, size, media type. */
export interface LayerRecord {
  digest: string;
  diffId: string;
  size: number;
  mediaType: string;
}

/** Streams bytes into the store: hashed as written, renamed into place only on commit. */
export interface BlobWriter {
  /** Write here (or call write()); backpressure as for any Writable. */
  readonly stream: Writable;
  /** Resolves once the writer is done with `chunk`: the caller may then overwrite its memory. */
  write(chunk: Uint8Array): Promise<void>;
  /**
   * Finish: verify against `expectedDigest` if given (a mismatch deletes the temp file and
   * throws a DigestMismatchError), then move the blob into place. Idempotent if the blob already exists.
   */
  commit(expectedDigest?: string): Promise<BlobInfo>;
  /** Drop the temp file; nothing becomes visible. */
  abort(): Promise<void>;
}

/** Opens writers for new blobs: all that a producer of streamed content (the layer writer) needs. */
export interface BlobWriterFactory {
  createBlobWriter(): Promise<BlobWriter>;
}

/** Adds blobs: streamed through a writer, or whole bytes and JSON documents at once. */
export interface BlobSink extends BlobWriterFactory {
  /** Store bytes; verified against `expectedDigest` when given (DigestMismatchError). */
  writeBlob(data: Uint8Array, expectedDigest?: string): Promise<BlobInfo>;
  /** Bytes are JSON.stringify(doc), the digest is over exactly those bytes. */
  writeJson(doc: unknown): Promise<BlobInfo & { bytes: Buffer }>;
}

/** Reads stored blobs by digest; whatever is read is checked against its digest. */
export interface BlobReader {
  hasBlob(digest: string): Promise<boolean>;
  /** Size of a stored blob, or undefined. */
  blobSize(digest: string): Promise<number | undefined>;
  /** Read a whole blob, verifying its digest (throws StoreCorruptionError on mismatch). */
  readBlob(digest: string): Promise<Buffer>;
  /** Stream a blob; the stream errors at its end if the bytes do not match the digest. */
  openBlob(digest: string): Readable;
  /** readBlob, parsed as JSON. */
  readJson<T>(digest: string): Promise<T>;
}

/** Blobs as files on disk, for callers that hardlink, copy or upload a blob from its file. */
export interface BlobFiles {
  /** The store's directory: blob files live below it; it names the store in messages and tells stores apart. */
  readonly root: string;
  /** Filesystem path of a blob; it exists only if the blob is stored. Reading it is not verified. */
  blobPath(digest: string): string;
}

/** Every way of using blobs. */
export interface Blobs extends BlobReader, BlobSink, BlobFiles {}
