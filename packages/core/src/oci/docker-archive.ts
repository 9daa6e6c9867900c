// The `docker save` / `docker load` archive: a tar with manifest.json ([{Config, RepoTags,
// Layers}]), the config and layer files, and `repositories`. Docker 25+ names the files
// blobs/sha256/<hex> and adds index.json + oci-layout, so the tar is also an OCI layout; older
// Dockers wrote <id>/layer.tar, <id>/json and <config-hex>.json. Kiln writes the new shape and
// reads both. Everything streams: each layer is read once, straight into the store.

import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, posix } from 'node:path';
import type { Transform } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { Parser } from 'tar';
import type { ReadEntry } from 'tar';
import { SNIFF_LENGTH, decompressor, sniffCompression } from '../archive/compression.js';
import { writeTar } from '../archive/tar.js';
import type { TarEntry } from '../archive/tar.js';
import { familiarName, formatReference, parseReference } from '../reference/index.js';
import type { ImageReference } from '../reference/index.js';
import type { BlobInfo, BlobReader, BlobSink, BlobWriter, BlobWriterFactory } from '../contracts/blobs.js';
import { defaultPlatform, parseImageConfig, readStoredConfig, resolveImageManifest } from './content.js';
import { canonicalJson, digestHex } from './digest.js';
import {
  CONTAINERD_IMAGE_NAME_ANNOTATION,
  OciError,
  REF_NAME_ANNOTATION,
  indexFor,
  isImageIndex,
  manifestFor,
  normalizeManifest,
  selectManifest,
} from './image.js';
import type { OciDescriptor, OciIndex, OciManifest } from './image.js';
import { ociLayoutFileContent } from './layout.js';
import { MediaTypes, layerCompression } from './media-types.js';
import type { LayerCompression } from './media-types.js';
import type { Descriptor, ImageConfig, Platform } from './types.js';

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

/** A `docker save` member: root-owned, mtime the epoch, 0755 directories, 0644 files (the same image, the same bytes). */
function member(path: string, body?: Uint8Array | AsyncIterable<Uint8Array>, size = 0): TarEntry {
  const type = body === undefined ? 'dir' : 'file';
  return { header: { path, type, mode: type === 'dir' ? 0o755 : 0o644, uid: 0, gid: 0, size, mtime: 0 }, body };
}

function parseTag(tag: string): ImageReference {
  const ref = parseReference(tag);
  if (ref.digest !== undefined) {
    throw new OciError(`a docker archive can only name images by tag, not by digest: ${JSON.stringify(tag)}`);
  }
  return ref;
}

export interface WriteDockerArchiveOptions {
  /** When `manifestDigest` names an index: the platform to save (default: this machine's, on linux). */
  platform?: Platform | string;
}

/**
 * Writes the image `manifestDigest` (a manifest, or an index resolved to one platform) from the
 * store as a `docker save` archive at `file`, in Docker 25's shape: blobs/sha256/<hex> for the
 * config, the layers (stored as they are: `docker load` detects gzip) and the OCI manifest;
 * manifest.json; index.json and oci-layout (so the tar is an OCI layout too); repositories.
 * Entries are sorted with the epoch as mtime and root as owner: the same image and tags give the
 * same bytes. Written to a temp file beside `file`, then renamed.
 */
export async function writeDockerArchive(
  file: string,
  store: BlobReader,
  manifestDigest: string,
  repoTags: readonly string[],
  options: WriteDockerArchiveOptions = {},
): Promise<{ manifestDigest: string; configDigest: string; size: number }> {
  const { manifest: m } = await resolveImageManifest(store, manifestDigest, options.platform);
  const manifest = m.doc;
  const config = await readStoredConfig(store, manifest.config.digest);
  if (config.rootfs.diff_ids.length !== manifest.layers.length) {
    throw new OciError(
      `image ${m.digest} is inconsistent: ${manifest.layers.length} layers but ${config.rootfs.diff_ids.length} diff_ids in its config`,
    );
  }
  const refs = [...new Set(repoTags)].map((t) => ({ tag: t, ref: parseTag(t) }));

  const blobPath = (digest: string): string => `blobs/sha256/${digestHex(digest)}`;
  const blobs = new Map<string, { size: number; data?: Buffer }>();
  blobs.set(m.digest, { size: m.size, data: m.bytes });
  blobs.set(manifest.config.digest, { size: manifest.config.size });
  for (const [i, layer] of manifest.layers.entries()) {
    if (!(await store.hasBlob(layer.digest))) {
      throw new OciError(`layer ${i + 1} (${layer.digest}) of image ${m.digest} is not in the store; pull the image again`);
    }
    blobs.set(layer.digest, { size: layer.size });
  }

  const items: DockerArchiveManifestItem[] = [
    {
      Config: blobPath(manifest.config.digest),
      RepoTags: refs.map((r) => familiarName(r.ref)),
      Layers: manifest.layers.map((l) => blobPath(l.digest)),
    },
  ];
  const entries: OciDescriptor[] = refs.map((r) => ({
    mediaType: m.mediaType,
    digest: m.digest,
    size: m.size,
    annotations: {
      [CONTAINERD_IMAGE_NAME_ANNOTATION]: formatReference(r.ref),
      [REF_NAME_ANNOTATION]: r.ref.tag ?? 'latest',
    },
  }));
  if (entries.length === 0) entries.push({ mediaType: m.mediaType, digest: m.digest, size: m.size });
  const index = indexFor(entries);

  // repositories: { familiar name: { tag: hex of the top layer blob } }, as Docker 25 writes it.
  const top = manifest.layers[manifest.layers.length - 1];
  const repositories: Record<string, Record<string, string>> = {};
  if (top) {
    for (const r of refs) {
      const name = familiarName({ domain: r.ref.domain, path: r.ref.path });
      (repositories[name] ??= {})[r.ref.tag ?? 'latest'] = digestHex(top.digest);
    }
  }

  await mkdir(dirname(file), { recursive: true });
  const tmp = join(dirname(file), `.${basename(file)}.tmp-${randomBytes(6).toString('hex')}`);
  function* members(): Generator<TarEntry> {
    yield member('blobs');
    yield member('blobs/sha256');
    for (const digest of [...blobs.keys()].sort()) {
      const b = blobs.get(digest) as { size: number; data?: Buffer };
      yield member(blobPath(digest), b.data ?? store.openBlob(digest), b.size);
    }
    const files: [string, Buffer][] = [
      ['index.json', canonicalJson(index)],
      ['manifest.json', canonicalJson(items)],
      ['oci-layout', ociLayoutFileContent()],
    ];
    if (Object.keys(repositories).length > 0) files.push(['repositories', canonicalJson(repositories)]);
    for (const [name, data] of files) yield member(name, data, data.length);
  }
  const out = createWriteStream(tmp, { mode: 0o644 });
  try {
    await pipeline(writeTar(members()), out);
    await rename(tmp, file);
  } catch (e) {
    out.destroy();
    await rm(tmp, { force: true });
    throw e;
  }
  return { manifestDigest: m.digest, configDigest: manifest.config.digest, size: out.bytesWritten };
}

// ---------------------------------------------------------------------------
// Reading

/** Entries up to this size are kept in memory (manifests, configs, small layers); larger ones spool into the store. */
const MEMORY_LIMIT = 1024 * 1024;
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

/** What one pass over the tar found. */
class ArchiveContents {
  readonly files = new Map<string, ArchiveFile>();
  readonly links = new Map<string, string>();

  constructor(
    private readonly file: string,
    private readonly store: BlobReader & BlobSink,
  ) {}

  resolve(path: string): ArchiveFile {
    let p = normalizeArchivePath(path);
    for (let i = 0; i < 16 && !this.files.has(p); i++) {
      const next = this.links.get(p);
      if (next === undefined) break;
      p = next;
    }
    const f = this.files.get(p);
    if (!f) throw new OciError(`${this.file} is not a valid docker archive: it has no file ${JSON.stringify(path)}`);
    return f;
  }

  has(path: string): boolean {
    try {
      this.resolve(path);
      return true;
    } catch {
      return false;
    }
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
    if (f.size > JSON_LIMIT) throw new OciError(`${what} (${f.path}) is too large (${f.size} bytes)`);
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
  const spool = entry.size > MEMORY_LIMIT;
  const writer = spool ? await store.createBlobWriter() : undefined;
  const file: ArchiveFile = { path, size: entry.size, digest: '', compression: 'none', diffId: undefined };
  // Registered at once, so that a failure later still aborts the writer.
  contents.files.get(path)?.writer?.abort().catch(() => undefined);
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
  if (!writer) file.data = Buffer.concat(chunks);
}

/** Reads the whole tar once, streaming, into `contents`. */
async function scanArchive(file: string, contents: ArchiveContents, store: BlobWriterFactory): Promise<void> {
  const parser = new Parser({ strict: true });
  let failure: unknown;
  const tasks: Promise<void>[] = [];
  let chain = Promise.resolve();
  parser.on('entry', (entry: ReadEntry) => {
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
  try {
    for await (const chunk of createReadStream(file)) {
      if (failure !== undefined || parseError !== undefined) break;
      if (!parser.write(chunk as Buffer)) await waitDrain();
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new OciError(`${file}: no such file`);
    throw e;
  }
  if (failure === undefined && parseError === undefined) {
    parser.end();
    await ended.catch((e: unknown) => (parseError ??= e));
  }
  await Promise.all(tasks);
  if (failure !== undefined) throw failure;
  if (parseError !== undefined) {
    throw new OciError(`${file} is not a valid tar archive: ${(parseError as Error).message ?? String(parseError)}`);
  }
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
 * Imports one image from a `docker save` archive (legacy or Docker 25+ shape, or a plain OCI
 * layout tar; the tar may be gzipped) into the store. `wantedTag` picks the image when the
 * archive holds several. The tar is read once: each layer streams into the store as it is
 * stored in the archive (uncompressed tars stay uncompressed with the OCI tar media type, gzip
 * stays gzip), its diffID computed on the way and checked against the config's
 * rootfs.diff_ids. An OCI manifest for the image is built (or the archive's own one reused when
 * it describes exactly these blobs) and stored. Refs are not set: the caller tags `repoTags`.
 */
export async function readDockerArchive(
  file: string,
  store: BlobReader & BlobSink,
  wantedTag?: string,
  options: ReadDockerArchiveOptions = {},
): Promise<ReadDockerArchiveResult> {
  const contents = new ArchiveContents(file, store);
  try {
    await scanArchive(file, contents, store);

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

    const configInfo = await contents.store_(configFile);
    const layers: Descriptor[] = [];
    for (const f of layerFiles) {
      const info = await contents.store_(f);
      layers.push({ mediaType: layerMediaType(f.compression), digest: info.digest, size: info.size });
    }

    // Reuse the archive's own OCI manifest when it describes exactly these blobs (keeps the digest).
    if (!archiveManifest) archiveManifest = await findArchiveManifest(contents, configInfo.digest, layers);
    let manifestDigest: string;
    let manifest: OciManifest;
    if (archiveManifest) {
      const info = await contents.store_(archiveManifest.file);
      manifestDigest = info.digest;
      manifest = archiveManifest.manifest;
    } else {
      manifest = manifestFor({ mediaType: MediaTypes.ociConfig, digest: configInfo.digest, size: configInfo.size }, layers);
      manifestDigest = (await store.writeJson(manifest)).digest;
    }
    return { manifestDigest, manifest, config, configDigest: configInfo.digest, repoTags };
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
