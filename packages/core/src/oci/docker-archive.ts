// The `docker save` / `docker load` archive: a tar with manifest.json ([{Config, RepoTags,
// Layers}]), the config and layer files, and `repositories`. Docker 25+ names the files
// blobs/sha256/<hex> and adds index.json + oci-layout, so the tar is also an OCI layout; older
// Dockers wrote <id>/layer.tar, <id>/json and <config-hex>.json. Kiln writes the new shape (any
// `docker load` since 1.10 follows manifest.json's paths, 20.10's included) and reads both, and
// `docker load`'s other input, an OCI layout in a tar (oci-archive.ts writes that one). Several
// images go in one archive. Everything streams: each layer is read once, straight into the store,
// and written from the store straight into the tar.

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { posix } from 'node:path';
import { Readable } from 'node:stream';
import type { Transform } from 'node:stream';
import { finished } from 'node:stream/promises';
import { Parser } from 'tar';
import type { ReadEntry } from 'tar';
import { SNIFF_LENGTH, decompress, decompressor, sniffCompression } from '../archive/compression.js';
import type { Compression } from '../archive/compression.js';
import { writeTar } from '../archive/tar.js';
import type { TarEntry } from '../archive/tar.js';
import { KilnError } from '../errors.js';
import { familiarName, formatReference, parseReference } from '../reference/index.js';
import type { ImageReference } from '../reference/index.js';
import type { BlobInfo, BlobReader, BlobSink, BlobWriter, BlobWriterFactory } from '../contracts/blobs.js';
import { defaultPlatform, parseImageConfig, readStoredConfig, resolveImageManifest } from './content.js';
import type { StoredDocument } from './content.js';
import { canonicalJson, digestHex } from './digest.js';
import {
  CONTAINERD_IMAGE_NAME_ANNOTATION,
  OciError,
  REF_NAME_ANNOTATION,
  formatPlatform,
  indexFor,
  isImageIndex,
  manifestFor,
  normalizeManifest,
  parsePlatform,
  selectManifest,
} from './image.js';
import type { OciDescriptor, OciIndex, OciManifest } from './image.js';
import { ociLayoutFileContent } from './layout.js';
import { MediaTypes, isIndex, isManifest, layerCompression } from './media-types.js';
import type { LayerCompression } from './media-types.js';
import { archiveBlobPath, archiveMember, archiveTag, indexEntries, writeArchiveFile } from './oci-archive.js';
import type { ArchiveImage, PreparedArchive } from './oci-archive.js';
import type { Descriptor, ImageConfig, Platform } from './types.js';

export type { ArchiveImage, PreparedArchive } from './oci-archive.js';

/** One image of manifest.json, as Docker writes it. */
export interface DockerArchiveManifestItem {
  Config: string;
  RepoTags: string[] | null;
  Layers: string[];
  Parent?: string;
  LayerSources?: Record<string, Descriptor>;
}

// ---------------------------------------------------------------------------
// Writing

export interface WriteDockerArchiveOptions {
  /** For an image that is an index: the platform to save (default: this machine's, on linux). */
  platform?: Platform | string;
}

/** One image as a docker archive holds it. */
export interface SavedDockerImage {
  /** The image manifest saved (for an index, the chosen platform's). */
  manifestDigest: string;
  configDigest: string;
  /** Familiar names (`app:1`) in manifest.json's RepoTags. */
  repoTags: string[];
}

/**
 * Prepares a `docker save` archive of `images` from the store, in Docker 25's shape (which every
 * `docker load` since 1.10 reads: it follows manifest.json's paths): blobs/sha256/<hex> for each
 * image's manifest, config and layers (stored as they are: `docker load` decompresses a gzip
 * layer itself), each blob once; manifest.json with one entry per image (Config, RepoTags -- null
 * for an untagged image, as docker writes it -- and Layers); index.json and oci-layout, so the
 * tar is also an OCI layout; repositories ({name: {tag: top layer}}). An index stands for the
 * manifest of `options.platform` (default this machine's): a docker archive holds one platform
 * per image. Images that resolve to the same manifest share one entry (their tags merged).
 * Everything is checked before a byte is written; entries are sorted, with the epoch as mtime
 * and root as owner: the same images and tags give the same bytes.
 */
export async function prepareDockerArchive(
  store: BlobReader,
  images: readonly ArchiveImage[],
  options: WriteDockerArchiveOptions = {},
): Promise<PreparedArchive & { images: SavedDockerImage[] }> {
  if (images.length === 0) throw new OciError('no images to save');
  interface Entry {
    manifest: StoredDocument & { doc: OciManifest };
    tags: string[];
  }
  const byManifest = new Map<string, Entry>();
  for (const image of images) {
    const name = image.name ?? image.digest;
    let m: StoredDocument & { doc: OciManifest };
    try {
      m = (await resolveImageManifest(store, image.digest, options.platform)).manifest;
    } catch (e) {
      if (e instanceof OciError) throw new OciError(`image ${name}: ${e.message}`);
      throw e;
    }
    for (const t of image.tags) archiveTag(t);
    const entry = byManifest.get(m.digest);
    if (entry) {
      for (const t of image.tags) if (!entry.tags.includes(t)) entry.tags.push(t);
      continue;
    }
    const manifest = m.doc;
    const config = await readStoredConfig(store, manifest.config.digest);
    if (config.rootfs.diff_ids.length !== manifest.layers.length) {
      throw new OciError(
        `image ${name} (${m.digest}) is inconsistent: ${manifest.layers.length} layers but ${config.rootfs.diff_ids.length} diff_ids in its config`,
      );
    }
    for (const [i, layer] of manifest.layers.entries()) {
      const size = await store.blobSize(layer.digest);
      if (size === undefined) {
        throw new OciError(`layer ${i + 1} (${layer.digest}) of image ${name} is not in the store; pull the image again`);
      }
      if (size !== layer.size) {
        throw new OciError(`layer ${i + 1} (${layer.digest}) of image ${name} has ${size} bytes in the store, but its manifest says ${layer.size}`);
      }
    }
    byManifest.set(m.digest, { manifest: m, tags: [...new Set(image.tags)] });
  }

  const blobs = new Map<string, { size: number; data?: Buffer }>();
  const items: DockerArchiveManifestItem[] = [];
  const entries: OciDescriptor[] = [];
  const repositories: Record<string, Record<string, string>> = {};
  const saved: SavedDockerImage[] = [];
  for (const { manifest: m, tags } of byManifest.values()) {
    const manifest = m.doc;
    blobs.set(m.digest, { size: m.size, data: m.bytes });
    blobs.set(manifest.config.digest, { size: manifest.config.size });
    for (const layer of manifest.layers) blobs.set(layer.digest, { size: layer.size });
    const refs = tags.map((t) => archiveTag(t));
    const repoTags = [...new Set(refs.map((r) => familiarName(r)))];
    items.push({
      Config: archiveBlobPath(manifest.config.digest),
      RepoTags: repoTags.length > 0 ? repoTags : null,
      Layers: manifest.layers.map((l) => archiveBlobPath(l.digest)),
    });
    entries.push(...indexEntries({ mediaType: m.mediaType, digest: m.digest, size: m.size }, tags));
    // repositories: { familiar name: { tag: hex of the top layer blob } }, as Docker 25 writes it.
    const top = manifest.layers[manifest.layers.length - 1];
    if (top) {
      for (const r of refs) {
        const repo = familiarName({ domain: r.domain, path: r.path });
        (repositories[repo] ??= {})[r.tag ?? 'latest'] = digestHex(top.digest);
      }
    }
    saved.push({ manifestDigest: m.digest, configDigest: manifest.config.digest, repoTags });
  }
  const index = indexFor(entries);

  function* members(): Generator<TarEntry> {
    yield archiveMember('blobs');
    yield archiveMember('blobs/sha256');
    for (const digest of [...blobs.keys()].sort()) {
      const b = blobs.get(digest) as { size: number; data?: Buffer };
      yield archiveMember(archiveBlobPath(digest), b.data ?? store.openBlob(digest), b.size);
    }
    const files: [string, Buffer][] = [
      ['index.json', canonicalJson(index)],
      ['manifest.json', canonicalJson(items)],
      ['oci-layout', ociLayoutFileContent()],
    ];
    if (Object.keys(repositories).length > 0) files.push(['repositories', canonicalJson(repositories)]);
    for (const [name, data] of files) yield archiveMember(name, data, data.length);
  }
  return { images: saved, chunks: () => writeTar(members()) };
}

/**
 * Writes the image `manifestDigest` (a manifest, or an index resolved to one platform) from the
 * store as a `docker save` archive at `file` (prepareDockerArchive's shape), tagged `repoTags`.
 * Written to a temp file beside `file`, then renamed.
 */
export async function writeDockerArchive(
  file: string,
  store: BlobReader,
  manifestDigest: string,
  repoTags: readonly string[],
  options: WriteDockerArchiveOptions = {},
): Promise<{ manifestDigest: string; configDigest: string; size: number }> {
  const prepared = await prepareDockerArchive(store, [{ digest: manifestDigest, tags: repoTags }], options);
  const size = await writeArchiveFile(file, prepared.chunks());
  const image = prepared.images[0] as SavedDockerImage;
  return { manifestDigest: image.manifestDigest, configDigest: image.configDigest, size };
}

// ---------------------------------------------------------------------------
// Reading

/** Entries up to this size are kept in memory (manifests, configs, small layers); larger ones spool into the store. */
const MEMORY_LIMIT = 1024 * 1024;
/** At most this much of an archive is kept in memory; past it, entries above JSON_IN_MEMORY spool too. */
const MEMORY_BUDGET = 64 * 1024 * 1024;
/** Entries this small (documents) stay in memory even past the budget. */
const JSON_IN_MEMORY = 64 * 1024;
/** JSON side files (manifest.json, index.json, configs) larger than this are refused. */
const JSON_LIMIT = 64 * 1024 * 1024;

/** How a file of the archive is compressed, as a layer can be: bzip2 and xz are not layer compressions (kept as they are). */
function sniffLayerCompression(head: Uint8Array): LayerCompression {
  const c = sniffCompression(head);
  return c === 'gzip' || c === 'zstd' ? c : 'none';
}

/** Hashes the uncompressed bytes of a compressed stream (the diffID), as the bytes go by. */
class DiffIdHasher {
  private readonly hash = createHash('sha256');
  private readonly inflate: Transform | undefined;
  private error: Error | undefined;
  readonly supported: boolean;

  constructor(compression: LayerCompression) {
    this.inflate = decompressor(compression);
    this.supported = compression === 'none' || this.inflate !== undefined;
    if (this.inflate) {
      this.inflate.on('data', (c: Buffer) => this.hash.update(c));
      this.inflate.on('error', (e) => (this.error ??= e));
    }
  }

  async write(chunk: Buffer): Promise<void> {
    if (!this.inflate || this.error) return;
    if (!this.inflate.write(chunk)) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          this.inflate?.off('drain', done);
          this.inflate?.off('error', done);
          resolve();
        };
        this.inflate?.once('drain', done);
        this.inflate?.once('error', done);
      });
    }
  }

  /** The diffID, or an Error describing why the stream could not be decompressed. */
  async end(): Promise<string | Error | undefined> {
    if (!this.inflate) return undefined;
    if (!this.error) {
      this.inflate.end();
      await finished(this.inflate).catch((e: Error) => (this.error ??= e));
    }
    return this.error ?? `sha256:${this.hash.digest('hex')}`;
  }
}

interface ArchiveFile {
  path: string;
  size: number;
  /** sha256 of the bytes as stored in the archive. */
  digest: string;
  compression: LayerCompression;
  /** Digest of the uncompressed bytes (= digest when not compressed); an Error when decompression failed. */
  diffId: string | Error | undefined;
  data?: Buffer;
  writer?: BlobWriter;
  stored?: BlobInfo;
}

function normalizeArchivePath(p: string): string {
  const n = posix.normalize(p.replace(/\\/g, '/')).replace(/^(\.\/)+/, '').replace(/^\/+/, '');
  return n.endsWith('/') ? n.slice(0, -1) : n;
}

/** A blob an OCI index or manifest lists that the archive does not hold. */
class MissingBlobError extends OciError {}

/** What one pass over the tar found. */
class ArchiveContents {
  readonly files = new Map<string, ArchiveFile>();
  readonly links = new Map<string, string>();
  /** Bytes of entries held in memory. */
  memoryBytes = 0;
  /** Whether the tar ended with its end-of-archive marker (two zero blocks): if not, it was cut short. */
  endMarker = false;

  constructor(
    /** The archive, for messages: a file name, or 'standard input'. */
    readonly file: string,
    private readonly store: BlobReader & BlobSink,
  ) {}

  private find(path: string): ArchiveFile | undefined {
    let p = normalizeArchivePath(path);
    for (let i = 0; i < 16 && !this.files.has(p); i++) {
      const next = this.links.get(p);
      if (next === undefined) break;
      p = next;
    }
    return this.files.get(p);
  }

  resolve(path: string): ArchiveFile {
    const f = this.find(path);
    if (!f) throw new OciError(`${this.file} is not a valid docker archive: it has no file ${JSON.stringify(path)}`);
    return f;
  }

  has(path: string): boolean {
    return this.find(path) !== undefined;
  }

  /** The blob `desc` names (blobs/sha256/<hex>), checked against its digest and size. */
  blob(desc: Descriptor, role: string): ArchiveFile {
    let path: string;
    try {
      path = archiveBlobPath(desc.digest);
    } catch {
      throw new OciError(`${this.file}: ${role} ${JSON.stringify(desc.digest)} is not a sha256 digest Kiln can read`);
    }
    const f = this.find(path);
    if (!f) throw new MissingBlobError(`${this.file}: ${role} ${desc.digest} is not in the archive (no ${path})`);
    if (f.digest !== desc.digest) {
      throw new OciError(`${this.file}: ${path} does not match its digest (its bytes hash to ${f.digest}); the archive is corrupt`);
    }
    if (f.size !== desc.size) {
      throw new OciError(`${this.file}: ${path} has ${f.size} bytes but the ${role}'s descriptor says ${desc.size}; the archive is corrupt`);
    }
    return f;
  }

  /** Puts the file into the store (commits its spooled writer, or writes its bytes). */
  async store_(f: ArchiveFile): Promise<BlobInfo> {
    if (f.stored) return f.stored;
    if (f.writer) {
      const w = f.writer;
      delete f.writer;
      f.stored = await w.commit(f.digest);
    } else {
      f.stored = await this.store.writeBlob(f.data ?? Buffer.alloc(0), f.digest);
    }
    return f.stored;
  }

  async bytes(f: ArchiveFile, what: string): Promise<Buffer> {
    if (f.data) return f.data;
    if (f.size > JSON_LIMIT) throw new OciError(`${this.file}: ${what} (${f.path}) is too large (${f.size} bytes)`);
    return this.store.readBlob((await this.store_(f)).digest);
  }

  async json(path: string, what: string): Promise<unknown> {
    const f = this.resolve(path);
    const text = (await this.bytes(f, what)).toString('utf8');
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new OciError(`${this.file}: ${what} (${f.path}) is not valid JSON: ${(e as Error).message}`);
    }
  }

  /** Drops every spooled blob that was not committed. */
  async abortPending(): Promise<void> {
    for (const f of this.files.values()) {
      if (f.writer) {
        const w = f.writer;
        delete f.writer;
        await w.abort().catch(() => undefined);
      }
    }
  }
}

async function readEntry(entry: ReadEntry, contents: ArchiveContents, store: BlobWriterFactory): Promise<void> {
  const path = normalizeArchivePath(entry.path);
  if (entry.type === 'SymbolicLink' && entry.linkpath) {
    contents.links.set(path, normalizeArchivePath(posix.join(posix.dirname(path), entry.linkpath)));
    entry.resume();
    return;
  }
  if (entry.type === 'Link' && entry.linkpath) {
    contents.links.set(path, normalizeArchivePath(entry.linkpath));
    entry.resume();
    return;
  }
  if (entry.type !== 'File' && entry.type !== 'OldFile' && entry.type !== 'ContiguousFile') {
    entry.resume();
    return;
  }
  const spool = entry.size > MEMORY_LIMIT || (entry.size > JSON_IN_MEMORY && contents.memoryBytes + entry.size > MEMORY_BUDGET);
  const writer = spool ? await store.createBlobWriter() : undefined;
  const file: ArchiveFile = { path, size: entry.size, digest: '', compression: 'none', diffId: undefined };
  // Registered at once, so that a failure later still aborts the writer.
  const replaced = contents.files.get(path);
  replaced?.writer?.abort().catch(() => undefined);
  if (replaced?.data) contents.memoryBytes -= replaced.data.length;
  contents.files.set(path, file);
  if (writer) file.writer = writer;
  const hash = createHash('sha256');
  const chunks: Buffer[] = [];
  let head = Buffer.alloc(0);
  let hasher: DiffIdHasher | undefined;
  const feed = async (chunk: Buffer): Promise<void> => {
    if (writer) await writer.write(chunk);
    else chunks.push(chunk);
    if (hasher) await hasher.write(chunk);
  };
  for await (const c of entry) {
    const chunk = c as Buffer;
    hash.update(chunk);
    if (!hasher) {
      head = Buffer.concat([head, chunk]);
      if (head.length < SNIFF_LENGTH) continue;
      file.compression = sniffLayerCompression(head);
      hasher = new DiffIdHasher(file.compression);
      const pending = head;
      head = Buffer.alloc(0);
      await feed(pending);
    } else {
      await feed(chunk);
    }
  }
  if (!hasher) {
    file.compression = sniffLayerCompression(head);
    hasher = new DiffIdHasher(file.compression);
    if (head.length > 0) await feed(head);
  }
  file.digest = `sha256:${hash.digest('hex')}`;
  const diff = await hasher.end();
  file.diffId = file.compression === 'none' ? file.digest : hasher.supported ? diff : undefined;
  if (!writer) {
    file.data = Buffer.concat(chunks);
    contents.memoryBytes += file.data.length;
  }
}

/** Where an archive comes from: a file name, or a stream (standard input). */
export type ArchiveSource = string | Readable;

/**
 * The tar inside `source`: as it is, or decompressed when its first bytes announce gzip, bzip2,
 * xz or zstd (as `docker load` detects them; bzip2 and xz through their commands).
 */
async function tarStream(source: Readable, what: string): Promise<{ tar: AsyncIterable<Buffer>; compression: Compression }> {
  const it = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let head = Buffer.alloc(0);
  while (head.length < SNIFF_LENGTH) {
    const r = await it.next();
    if (r.done) break;
    head = Buffer.concat([head, Buffer.from(r.value)]);
  }
  if (head.length === 0) throw new OciError(`${what} is empty: expected an image archive (a tar written by docker save or kiln save)`);
  const compression = sniffCompression(head);
  async function* replay(): AsyncGenerator<Buffer> {
    try {
      yield head;
      for (;;) {
        const r = await it.next();
        if (r.done) return;
        yield r.value;
      }
    } finally {
      await it.return?.();
    }
  }
  if (compression === 'none') return { tar: replay(), compression };
  return { tar: decompress(Readable.from(replay(), { objectMode: false }), compression, { commands: true, what }), compression };
}

/** Why reading the archive's bytes failed, as a user can act on it. */
function readFailure(what: string, compression: Compression, e: unknown): unknown {
  if (e instanceof KilnError) return e;
  const err = e as NodeJS.ErrnoException;
  if (err?.code === 'ENOENT') return new OciError(`${what}: no such file`);
  if (err?.code === 'EISDIR') return new OciError(`${what} is a directory, not an image archive`);
  if (err?.code === 'EACCES' || err?.code === 'EPERM') return e;
  const message = err instanceof Error ? err.message : String(e);
  if (compression !== 'none') {
    return new OciError(`${what}: the ${compression}-compressed archive is truncated or corrupt (${message}); save or copy it again`);
  }
  return new OciError(`${what} could not be read: ${message}`);
}

/** A tar ends with two zero blocks. */
const END_MARKER = 1024;

/**
 * `e`, or, when the tar was cut short (no end-of-archive marker), the same failure explained as
 * what it most likely is: a truncated archive (a tar cut at an entry boundary parses cleanly, and
 * only lacks what came after).
 */
function explainTruncation(contents: ArchiveContents, e: unknown): unknown {
  if (contents.endMarker || !(e instanceof OciError)) return e;
  return new OciError(`${contents.file} is truncated (it stops before the tar's end-of-archive marker): save or copy it again. ${e.message}`);
}

/** Reads the whole tar once, streaming, into `contents`. */
async function scanArchive(source: ArchiveSource, what: string, contents: ArchiveContents, store: BlobWriterFactory): Promise<void> {
  const input = typeof source === 'string' ? createReadStream(source) : source;
  const parser = new Parser({ strict: true });
  let failure: unknown;
  let entries = 0;
  const tasks: Promise<void>[] = [];
  let chain = Promise.resolve();
  parser.on('entry', (entry: ReadEntry) => {
    entries++;
    // Entries are handled one after the other (the parser hands out the next when this one ends).
    chain = chain.then(() =>
      failure !== undefined
        ? void entry.resume()
        : readEntry(entry, contents, store).catch((e: unknown) => {
            failure ??= e;
            entry.resume();
          }),
    );
    tasks.push(chain);
  });
  const ended = new Promise<void>((resolve, reject) => {
    parser.on('end', () => resolve());
    parser.on('error', reject);
    parser.on('abort', reject);
  });
  ended.catch(() => undefined);
  const waitDrain = (): Promise<void> =>
    new Promise<void>((resolve) => {
      const done = (): void => {
        parser.off('drain', done);
        parser.off('error', done);
        parser.off('abort', done);
        resolve();
      };
      parser.on('drain', done);
      parser.on('error', done);
      parser.on('abort', done);
    });

  let parseError: unknown;
  parser.on('error', (e: unknown) => (parseError ??= e));
  let compression: Compression = 'none';
  try {
    const opened = await tarStream(input, what);
    compression = opened.compression;
    let tail: Buffer = Buffer.alloc(0);
    for await (const chunk of opened.tar) {
      if (failure !== undefined || parseError !== undefined) break;
      tail = chunk.length >= END_MARKER ? chunk.subarray(chunk.length - END_MARKER) : Buffer.concat([tail, chunk]).subarray(-END_MARKER);
      if (!parser.write(chunk)) await waitDrain();
    }
    contents.endMarker = tail.length === END_MARKER && tail.every((b) => b === 0);
  } catch (e) {
    failure ??= readFailure(what, compression, e);
  } finally {
    input.destroy();
  }
  // Ended in every case: an entry cut short then ends too (short, and the parser reports the
  // truncation), so no task waits for bytes that will never come.
  parser.end();
  await ended.catch((e: unknown) => (parseError ??= e));
  await Promise.all(tasks);
  if (failure !== undefined) throw failure;
  if (parseError !== undefined) {
    const message = ((parseError as Error).message ?? String(parseError)).replace(/^TAR_[A-Z_]+: /, '');
    const cut = /^truncated input \((.*)\)$/i.exec(message);
    if (cut) throw new OciError(`${what} is truncated (${cut[1]}): the archive is incomplete; save or copy it again`);
    throw new OciError(`${what} is not a valid tar archive: ${message}`);
  }
  if (entries === 0) throw new OciError(`${what} is not an image archive: it is not a tar, or an empty one`);
}

export interface ReadDockerArchiveResult {
  manifestDigest: string;
  manifest: OciManifest;
  config: ImageConfig;
  configDigest: string;
  /** The image's tags as the archive names them (familiar form, e.g. `app:1.0`). */
  repoTags: string[];
}

export interface ReadDockerArchiveOptions {
  /** For an archive that is only an OCI layout and names an index: the platform to take. */
  platform?: Platform | string;
}

function sameRef(a: string, b: ImageReference | undefined): boolean {
  if (!b) return false;
  try {
    return formatReference(parseReference(a)) === formatReference(b);
  } catch {
    return false;
  }
}

function tagOf(repoTag: string): string | undefined {
  try {
    return parseReference(repoTag).tag;
  } catch {
    return undefined;
  }
}

/** The image named `wanted` ('app:1', 'docker.io/library/app:1', or a bare tag '1' when unambiguous). */
function chooseItem(file: string, items: readonly DockerArchiveManifestItem[], wanted?: string): DockerArchiveManifestItem {
  const list = (): string => {
    const tags = items.flatMap((i) => i.RepoTags ?? []);
    return tags.length > 0 ? tags.map((t) => JSON.stringify(t)).join(', ') : '(no tags)';
  };
  if (items.length === 0) throw new OciError(`${file}: manifest.json lists no images`);
  if (wanted === undefined) {
    if (items.length === 1) return items[0] as DockerArchiveManifestItem;
    throw new OciError(`${file} holds ${items.length} images (${list()}); name the one to use (docker-archive://FILE:TAG)`);
  }
  let ref: ImageReference | undefined;
  try {
    ref = parseReference(wanted);
  } catch {
    ref = undefined;
  }
  const exact = items.find((i) => (i.RepoTags ?? []).some((t) => t === wanted || sameRef(t, ref)));
  if (exact) return exact;
  const byTag = items.filter((i) => (i.RepoTags ?? []).some((t) => tagOf(t) === wanted));
  if (byTag.length === 1) return byTag[0] as DockerArchiveManifestItem;
  throw new OciError(
    `${file} has no image tagged ${JSON.stringify(wanted)}` +
      (byTag.length > 1 ? ' (several images have that tag; give name:tag)' : '') +
      `; it has ${list()}`,
  );
}

function checkItems(file: string, raw: unknown): DockerArchiveManifestItem[] {
  const bad = (why: string): never => {
    throw new OciError(`${file}: manifest.json is not a docker save manifest: ${why}`);
  };
  if (!Array.isArray(raw)) bad('expected a JSON array');
  return (raw as unknown[]).map((it, i) => {
    if (typeof it !== 'object' || it === null) return bad(`entry ${i} is not an object`);
    const o = it as Record<string, unknown>;
    if (typeof o.Config !== 'string') bad(`entry ${i} has no Config path`);
    if (!Array.isArray(o.Layers) || !o.Layers.every((l) => typeof l === 'string')) bad(`entry ${i} has no Layers list`);
    if (o.RepoTags != null && (!Array.isArray(o.RepoTags) || !o.RepoTags.every((t) => typeof t === 'string'))) {
      bad(`entry ${i} has invalid RepoTags`);
    }
    return o as unknown as DockerArchiveManifestItem;
  });
}

function layerMediaType(c: LayerCompression): string {
  return c === 'gzip' ? MediaTypes.ociLayerGzip : c === 'zstd' ? MediaTypes.ociLayerZstd : MediaTypes.ociLayer;
}

/** The image chosen from an OCI-only archive (index.json, no manifest.json). */
async function chooseFromOciIndex(
  file: string,
  contents: ArchiveContents,
  wanted: string | undefined,
  platform: Platform | string,
): Promise<{ manifestFile: ArchiveFile; manifest: OciManifest; repoTags: string[] }> {
  const raw = await contents.json('index.json', 'index.json');
  const index = normalizeManifest(raw, MediaTypes.ociIndex) as OciIndex;
  const names = (d: OciDescriptor): string[] =>
    [d.annotations?.[REF_NAME_ANNOTATION], d.annotations?.[CONTAINERD_IMAGE_NAME_ANNOTATION]].filter(
      (n): n is string => n !== undefined,
    );
  let candidates = index.manifests;
  if (wanted !== undefined) {
    let ref: ImageReference | undefined;
    try {
      ref = parseReference(wanted);
    } catch {
      ref = undefined;
    }
    candidates = candidates.filter((d) => names(d).some((n) => n === wanted || sameRef(n, ref)));
  }
  const distinct = new Set(candidates.map((d) => d.digest));
  if (distinct.size !== 1) {
    const all = index.manifests.map((d) => JSON.stringify(names(d)[0] ?? d.digest)).join(', ');
    throw new OciError(
      distinct.size === 0
        ? `${file} has no image ${wanted === undefined ? '' : `named ${JSON.stringify(wanted)} `}(it has ${all || 'none'})`
        : `${file} holds several images (${all}); name the one to use`,
    );
  }
  let desc = candidates[0] as OciDescriptor;
  for (let depth = 0; depth < 8; depth++) {
    const f = contents.resolve(`blobs/sha256/${digestHex(desc.digest)}`);
    if (f.digest !== desc.digest) throw new OciError(`${file}: blob ${desc.digest} does not match its digest (${f.digest})`);
    const doc = normalizeManifest(await contents.bytes(f, 'a manifest'), desc.mediaType);
    if (!isImageIndex(doc)) {
      const full = candidates[0]?.annotations?.[CONTAINERD_IMAGE_NAME_ANNOTATION];
      const repoTags: string[] = [];
      if (full) {
        try {
          repoTags.push(familiarName(parseReference(full)));
        } catch {
          // not a reference: no tag
        }
      }
      return { manifestFile: f, manifest: doc, repoTags };
    }
    desc = selectManifest(doc, platform);
  }
  throw new OciError(`${file}: image index nesting is too deep`);
}

/**
 * Checks an image of a docker archive before anything of it is stored: its config parses, and
 * each layer's diffID (computed while the tar was read) is the one the config lists.
 */
async function checkDockerImage(
  file: string,
  contents: ArchiveContents,
  configFile: ArchiveFile,
  layerFiles: readonly ArchiveFile[],
): Promise<ImageConfig> {
  const config = parseImageConfig(await contents.bytes(configFile, 'the image config'), configFile.path);
  const diffIds = config.rootfs.diff_ids;
  if (diffIds.length !== layerFiles.length) {
    throw new OciError(
      `${file}: the image has ${layerFiles.length} layers but its config lists ${diffIds.length} diff_ids; the archive is corrupt`,
    );
  }
  for (const [i, f] of layerFiles.entries()) {
    if (f.diffId instanceof Error) {
      throw new OciError(`${file}: layer ${i + 1} (${f.path}) could not be decompressed: ${f.diffId.message}`);
    }
    if (f.diffId === undefined) {
      throw new OciError(
        `${file}: layer ${i + 1} (${f.path}) is ${f.compression}-compressed, which this Node.js cannot decompress`,
      );
    }
    if (f.diffId !== diffIds[i]) {
      throw new OciError(
        `${file}: layer ${i + 1} (${f.path}) has diffID ${f.diffId} but the image config expects ${diffIds[i]}; ` +
          'the archive is corrupt or was altered',
      );
    }
  }
  return config;
}

/**
 * Stores a checked image of a docker archive: its config and layers (as they are in the archive:
 * plain tars stay uncompressed with the OCI tar media type, gzip stays gzip), and a manifest for
 * them -- the archive's own OCI manifest when one describes exactly these blobs (keeps the
 * digest), else one built here.
 */
async function storeDockerImage(
  store: BlobSink,
  contents: ArchiveContents,
  configFile: ArchiveFile,
  layerFiles: readonly ArchiveFile[],
  archiveManifest?: { file: ArchiveFile; manifest: OciManifest },
): Promise<{ manifestDigest: string; manifest: OciManifest; configDigest: string }> {
  const configInfo = await contents.store_(configFile);
  const layers: Descriptor[] = [];
  for (const f of layerFiles) {
    const info = await contents.store_(f);
    layers.push({ mediaType: layerMediaType(f.compression), digest: info.digest, size: info.size });
  }
  const own = archiveManifest ?? (await findArchiveManifest(contents, configInfo.digest, layers));
  if (own) {
    const info = await contents.store_(own.file);
    return { manifestDigest: info.digest, manifest: own.manifest, configDigest: configInfo.digest };
  }
  const manifest = manifestFor({ mediaType: MediaTypes.ociConfig, digest: configInfo.digest, size: configInfo.size }, layers);
  const manifestDigest = (await store.writeJson(manifest)).digest;
  return { manifestDigest, manifest, configDigest: configInfo.digest };
}

/**
 * Imports one image from a `docker save` archive (legacy or Docker 25+ shape, or a plain OCI
 * layout tar; the tar may be compressed) into the store. `wantedTag` picks the image when the
 * archive holds several. The tar is read once: each layer streams into the store as it is
 * stored in the archive (uncompressed tars stay uncompressed with the OCI tar media type, gzip
 * stays gzip), its diffID computed on the way and checked against the config's
 * rootfs.diff_ids. An OCI manifest for the image is built (or the archive's own one reused when
 * it describes exactly these blobs) and stored. Refs are not set: the caller tags `repoTags`.
 * (`loadImageArchive` imports every image of an archive, as `docker load` does.)
 */
export async function readDockerArchive(
  file: string,
  store: BlobReader & BlobSink,
  wantedTag?: string,
  options: ReadDockerArchiveOptions = {},
): Promise<ReadDockerArchiveResult> {
  const contents = new ArchiveContents(file, store);
  try {
    await scanArchive(file, file, contents, store);

    let configFile: ArchiveFile;
    let layerFiles: ArchiveFile[];
    let repoTags: string[];
    let archiveManifest: { file: ArchiveFile; manifest: OciManifest } | undefined;

    if (contents.has('manifest.json')) {
      const items = checkItems(file, await contents.json('manifest.json', 'manifest.json'));
      const item = chooseItem(file, items, wantedTag);
      configFile = contents.resolve(item.Config);
      layerFiles = item.Layers.map((l) => contents.resolve(l));
      repoTags = [...(item.RepoTags ?? [])];
    } else if (contents.has('index.json')) {
      const chosen = await chooseFromOciIndex(file, contents, wantedTag, options.platform ?? defaultPlatform());
      configFile = contents.resolve(`blobs/sha256/${digestHex(chosen.manifest.config.digest)}`);
      layerFiles = chosen.manifest.layers.map((l) => {
        const f = contents.resolve(`blobs/sha256/${digestHex(l.digest)}`);
        if (f.digest !== l.digest) throw new OciError(`${file}: blob ${l.digest} does not match its digest (${f.digest})`);
        return f;
      });
      repoTags = chosen.repoTags;
      archiveManifest = { file: chosen.manifestFile, manifest: chosen.manifest };
    } else {
      throw new OciError(`${file} is not a docker archive: it has neither manifest.json nor index.json`);
    }

    const config = await checkDockerImage(file, contents, configFile, layerFiles);
    const stored = await storeDockerImage(store, contents, configFile, layerFiles, archiveManifest);
    return { ...stored, config, repoTags };
  } catch (e) {
    throw explainTruncation(contents, e);
  } finally {
    await contents.abortPending();
  }
}

/** A manifest among the archive's small blobs whose config and layers are exactly these. */
async function findArchiveManifest(
  contents: ArchiveContents,
  configDigest: string,
  layers: readonly Descriptor[],
): Promise<{ file: ArchiveFile; manifest: OciManifest } | undefined> {
  for (const f of contents.files.values()) {
    if (!f.data || !f.path.startsWith('blobs/') || f.data[0] !== 0x7b /* { */) continue;
    let doc: OciManifest | OciIndex;
    try {
      doc = normalizeManifest(f.data);
    } catch {
      continue;
    }
    if (isImageIndex(doc) || doc.config.digest !== configDigest || doc.layers.length !== layers.length) continue;
    const same = doc.layers.every((l, i) => {
      const mine = layers[i] as Descriptor;
      return l.digest === mine.digest && l.size === mine.size && layerCompression(l.mediaType) === layerCompression(mine.mediaType);
    });
    if (same) return { file: f, manifest: doc };
  }
  return undefined;
}

// ---------------------------------------------------------------------------
// `docker load`: every image of an archive

/** An image `loadImageArchive` put into the store. */
export interface LoadedImage {
  /** What the store should record (addImage) and the tags name: a manifest, or an index when the archive held all of it. */
  digest: string;
  /** Docker's image ID: the config digest; for an index, the index digest. */
  id: string;
  /** Its tags as the archive names them, familiar (`app:1`); empty for an untagged image. */
  repoTags: string[];
}

export interface LoadImageArchiveOptions {
  /** How to name the archive in messages (default: the file name, or 'the archive' for a stream). */
  name?: string;
  /** An index the archive holds only in part: the platform to load (default: this machine's, on linux). */
  platform?: Platform | string;
}

/** An image of the archive, checked; `commit` stores its blobs and says what to record. */
interface PlannedImage {
  repoTags: string[];
  commit(): Promise<{ digest: string; id: string }>;
}

/** A RepoTags entry or an image name annotation as docker shows it (`app:1`); throws when it is not a name:tag. */
function loadedTag(file: string, name: string, where: string): string {
  let ref: ImageReference;
  try {
    ref = parseReference(name);
  } catch (e) {
    throw new OciError(`${file}: ${where} names an image ${JSON.stringify(name)}, which is not a valid name:tag (${(e as Error).message})`);
  }
  return familiarName({ domain: ref.domain, path: ref.path, tag: ref.tag ?? 'latest' });
}

async function planDockerItems(file: string, contents: ArchiveContents, store: BlobSink): Promise<PlannedImage[]> {
  const items = checkItems(file, await contents.json('manifest.json', 'manifest.json'));
  if (items.length === 0) throw new OciError(`${file}: manifest.json lists no images`);
  const plans: PlannedImage[] = [];
  for (const item of items) {
    const configFile = contents.resolve(item.Config);
    const layerFiles = item.Layers.map((l) => contents.resolve(l));
    await checkDockerImage(file, contents, configFile, layerFiles);
    const repoTags = [...new Set((item.RepoTags ?? []).map((t) => loadedTag(file, t, 'manifest.json')))];
    plans.push({
      repoTags,
      commit: async () => {
        const stored = await storeDockerImage(store, contents, configFile, layerFiles);
        return { digest: stored.manifestDigest, id: stored.configDigest };
      },
    });
  }
  return plans;
}

/** The tag an index.json entry gives its image: `io.containerd.image.name`, else a ref name that is a full name:tag. */
function entryTag(file: string, d: OciDescriptor): string | undefined {
  const full = d.annotations?.[CONTAINERD_IMAGE_NAME_ANNOTATION];
  const refName = d.annotations?.[REF_NAME_ANNOTATION];
  // A bare ref name ('1.0', 'latest') is only a tag, with no repository to put it in.
  const name = full ?? (refName !== undefined && /[:/]/.test(refName) ? refName : undefined);
  if (name === undefined) return undefined;
  let ref: ImageReference;
  try {
    ref = parseReference(name);
  } catch {
    return undefined;
  }
  if (ref.digest !== undefined && ref.tag === undefined) return undefined; // a digest only names content, as docker's dangling names
  return loadedTag(file, name, 'index.json');
}

const IMAGE_CONFIGS: ReadonlySet<string> = new Set([MediaTypes.ociConfig, MediaTypes.dockerConfig]);

/** What an index.json descriptor leads to, checked: the files to store (children first) and what to record. */
async function planOciTarget(
  file: string,
  contents: ArchiveContents,
  desc: OciDescriptor,
  platform: Platform | string,
  depth: number,
): Promise<{ digest: string; id: string; files: ArchiveFile[] }> {
  if (depth > 8) throw new OciError(`${file}: image index nesting is too deep`);
  const top = contents.blob(desc, isIndex(desc.mediaType) ? 'index' : 'manifest');
  let doc: OciManifest | OciIndex;
  try {
    doc = normalizeManifest(await contents.bytes(top, 'a manifest'), isIndex(desc.mediaType) || isManifest(desc.mediaType) ? desc.mediaType : undefined);
  } catch (e) {
    throw new OciError(`${file}: ${top.path} is not a valid image manifest or index: ${(e as Error).message}`);
  }
  if (!isImageIndex(doc)) {
    const configFile = contents.blob(doc.config, 'config');
    const layerFiles: (ArchiveFile | undefined)[] = doc.layers.map((l) => {
      // A foreign layer the archive leaves out is fetched from its urls by whoever runs the image.
      if ((l.urls?.length ?? 0) > 0 && !contents.has(archiveBlobPath(l.digest))) return undefined;
      return contents.blob(l, 'layer');
    });
    if (IMAGE_CONFIGS.has(doc.config.mediaType)) {
      const config = parseImageConfig(await contents.bytes(configFile, 'the image config'), `${configFile.path} in ${file}`);
      const diffIds = config.rootfs.diff_ids;
      if (diffIds.length !== doc.layers.length) {
        throw new OciError(`${file}: image ${desc.digest} has ${doc.layers.length} layers but its config lists ${diffIds.length} diff_ids; the archive is corrupt`);
      }
      for (const [i, f] of layerFiles.entries()) {
        if (f === undefined || f.diffId === undefined) continue; // not here, or a compression this Node.js cannot read (its digest was checked)
        if (f.diffId instanceof Error) throw new OciError(`${file}: layer ${i + 1} (${f.path}) could not be decompressed: ${f.diffId.message}`);
        if (f.diffId !== diffIds[i]) {
          throw new OciError(`${file}: layer ${i + 1} (${f.path}) has diffID ${f.diffId} but the image config expects ${diffIds[i]}; the archive is corrupt`);
        }
      }
    }
    const files = [...layerFiles.filter((f): f is ArchiveFile => f !== undefined), configFile, top];
    return { digest: desc.digest, id: doc.config.digest, files };
  }
  // An index: whole when the archive holds every child, else the one platform it can.
  const files: ArchiveFile[] = [];
  let complete = true;
  for (const child of doc.manifests) {
    try {
      if (isManifest(child.mediaType) || isIndex(child.mediaType)) {
        files.push(...(await planOciTarget(file, contents, child, platform, depth + 1)).files);
      } else {
        files.push(contents.blob(child, 'index entry'));
      }
    } catch (e) {
      if (!(e instanceof MissingBlobError)) throw e;
      complete = false;
    }
  }
  if (complete) return { digest: desc.digest, id: desc.digest, files: [...files, top] };
  const chosen = selectManifest(doc, platform);
  try {
    return await planOciTarget(file, contents, chosen, platform, depth + 1);
  } catch (e) {
    if (!(e instanceof MissingBlobError)) throw e;
    throw new OciError(
      `${file}: the multi-platform image ${desc.digest} is incomplete: the archive lacks blobs of its ${formatPlatform(
        typeof platform === 'string' ? parsePlatform(platform) : platform,
      )} image (${e.message.replace(`${file}: `, '')})`,
    );
  }
}

async function planOciIndex(file: string, contents: ArchiveContents, platform: Platform | string): Promise<PlannedImage[]> {
  const raw = await contents.json('index.json', 'index.json');
  let index: OciIndex;
  try {
    const doc = normalizeManifest(raw, MediaTypes.ociIndex);
    if (!isImageIndex(doc)) throw new OciError('it is not an image index');
    index = doc;
  } catch (e) {
    throw new OciError(`${file}: index.json is not a valid image index: ${(e as Error).message}`);
  }
  // Entries naming the same content are one image with several tags (one entry per tag, as containerd writes them).
  const groups = new Map<string, { desc: OciDescriptor; tags: string[] }>();
  for (const d of index.manifests) {
    if (!isManifest(d.mediaType) && !isIndex(d.mediaType)) continue;
    const g = groups.get(d.digest) ?? { desc: d, tags: [] as string[] };
    groups.set(d.digest, g);
    const tag = entryTag(file, d);
    if (tag !== undefined && !g.tags.includes(tag)) g.tags.push(tag);
  }
  if (groups.size === 0) throw new OciError(`${file}: index.json lists no images`);
  const plans: PlannedImage[] = [];
  for (const { desc, tags } of groups.values()) {
    const target = await planOciTarget(file, contents, desc, platform, 0);
    plans.push({
      repoTags: tags,
      commit: async () => {
        for (const f of target.files) await contents.store_(f);
        return { digest: target.digest, id: target.id };
      },
    });
  }
  return plans;
}

/**
 * Imports every image of an image archive into the store, as `docker load` does: a `docker save`
 * archive (legacy or Docker 25+ shape: manifest.json wins when there is one) or an OCI image
 * layout in a tar (index.json: one image per distinct entry, named by `io.containerd.image.name`,
 * or by `org.opencontainers.image.ref.name` when that is a full name:tag; an index is loaded whole
 * when the archive holds every platform, else as this machine's platform). The archive is a file
 * or a stream (standard input), plain or compressed (gzip, bzip2, xz, zstd: detected from its
 * first bytes), and is read once, streaming: large blobs spool into the store's temp files, never
 * into memory. Every blob is verified (digests, sizes, layer diffIDs against the config) and
 * every image checked before the first blob is committed; a bad or truncated archive commits
 * nothing (blobs it stored before failing are content-addressed leftovers, no image). Images and
 * refs are not recorded: the caller records each `digest` and sets its `repoTags`.
 */
export async function loadImageArchive(
  source: ArchiveSource,
  store: BlobReader & BlobSink,
  options: LoadImageArchiveOptions = {},
): Promise<LoadedImage[]> {
  const what = options.name ?? (typeof source === 'string' ? source : 'the archive');
  const contents = new ArchiveContents(what, store);
  try {
    await scanArchive(source, what, contents, store);
    let plans: PlannedImage[];
    try {
      if (contents.has('manifest.json')) plans = await planDockerItems(what, contents, store);
      else if (contents.has('index.json')) plans = await planOciIndex(what, contents, options.platform ?? defaultPlatform());
      else {
        throw new OciError(
          `${what} is not an image archive: it has neither manifest.json (docker save) nor index.json (an OCI layout)`,
        );
      }
    } catch (e) {
      throw explainTruncation(contents, e);
    }
    const loaded: LoadedImage[] = [];
    for (const plan of plans) {
      const { digest, id } = await plan.commit();
      const same = loaded.find((l) => l.digest === digest);
      if (same) {
        for (const t of plan.repoTags) if (!same.repoTags.includes(t)) same.repoTags.push(t);
      } else {
        loaded.push({ digest, id, repoTags: [...plan.repoTags] });
      }
    }
    return loaded;
  } finally {
    await contents.abortPending();
  }
}
