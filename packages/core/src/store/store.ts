// Kiln's local content-addressed store, on a directory:
//
//   <root>/VERSION                 {"format":"kiln-store","version":1}
//   <root>/blobs/sha256/<hex>      content, named by its sha256
//   <root>/refs/<name>.json        one RefRecord per image reference (name = safeFileName(ref))
//   <root>/cache/<sha256(key)>.json  build-cache records
//   <root>/meta/<kind>/<name>.json small JSON side files
//   <root>/tmp/                    every write starts here and is renamed into place
//   <root>/locks/<name>.lock       cross-process locks
//   <root>/corrupt/                blobs that failed verification, moved aside
//   <root>/unpacked/<hex>/         layers unpacked for RUN (overlay lower dirs), by chain ID
//   <root>/sandboxes/s-<pid>-.../  one RUN sandbox each (bundle, upper, work), removed after the RUN
//
// Every visible file appears through rename(2) from a temp file in tmp/ (same filesystem), so a
// crash or Ctrl-C never leaves a half-written one. Blobs are flushed (datasync) before the rename
// when KILN_STORE_FSYNC=1;
// refs, cache records and meta files are not (it would cost ~3x on small writes, and losing one
// of them on power loss only loses a tag or a cache entry, never serves wrong bytes).
// Temp names carry the writer's pid and host, so cleanup never removes a live process's files.

import { AsyncLocalStorage } from 'node:async_hooks';
import { digestHex, isDigest, sha256Hex } from '../oci/digest.js';
import { createHash, randomBytes } from 'node:crypto';
import type { Stats } from 'node:fs';
import {
  chmod,
  lstat,
  mkdir,
  mkdtemp,
  open,
  readFile,
  readdir,
  rename,
  rm,
  stat,
  unlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { homedir, hostname } from 'node:os';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { KilnError } from '../errors.js';
import {
  BlobNotFoundError,
  DigestMismatchError,
  LockTimeoutError,
  StoreAccessError,
  StoreCorruptionError,
  StoreFormatError,
  storeFsError,
} from './errors.js';
import type { BlobInfo, BlobWriter } from '../contracts/blobs.js';
import type { CacheRecord } from '../contracts/cache-index.js';
import type { ImageRecord, RefRecord } from '../contracts/refs.js';
import type { StoredBlob, StoredCacheRecord, StoredDirectory } from '../contracts/maintenance.js';
import type { ContainerRecord } from '../contracts/containers.js';
import type { ContentStore, VerifyReport } from './types.js';

/** The store format this Kiln reads and writes. */
export const STORE_FORMAT_VERSION = 1;
const STORE_FORMAT = 'kiln-store';

/** Temp files and directories older than this, whose writer is not known to be alive, are removed on open. */
const STALE_TEMP_MS = 60 * 60 * 1000;
/** A lock file that is still empty or unreadable after this long was left by a crashed writer. */
const UNREADABLE_LOCK_STALE_MS = 10_000;
const READ_CHUNK = 256 * 1024;
/**
 * Flush blobs to disk before they are renamed into place only when KILN_STORE_FSYNC=1. The rename
 * alone already keeps a crash or Ctrl-C from exposing a half-written blob; what a power loss could
 * still tear is caught by the verification on every read (the blob is moved aside and rebuilt), and
 * the flush costs more than compressing the layer would.
 */
const SYNC_BLOBS = process.env.KILN_STORE_FSYNC === '1';

/** While a blob streams in, start a datasync every this many bytes (overlaps disk and hashing). */
const BACKGROUND_FLUSH_BYTES = 32 * 1024 * 1024;
const VERIFY_CHUNK = 1024 * 1024;
const VERIFY_CONCURRENCY = 4;
const MAX_SAFE_NAME = 180;

const HEX64_RE = /^[a-f0-9]{64}$/;
const META_KIND_RE = /^[a-z0-9-]+$/;

/** Entries a (possibly half-initialized) store directory may hold besides VERSION. */
const STORE_ENTRIES = new Set(['VERSION', 'blobs', 'refs', 'images', 'containers', 'leases', 'cache', 'meta', 'tmp', 'locks', 'corrupt', 'unpacked', 'sandboxes', 'cache-mounts', 'runc']);

const HOST = hostname();
const HOST_TAG = sha256Hex(HOST).slice(0, 8);

/** Options for {@link Store.withLock}. Without a timeout, a held lock is waited for indefinitely. */
export interface LockOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * Where the store lives when no `--store` is given: `KILN_STORE`, else
 * `$XDG_CACHE_HOME/kiln/store` (when absolute, as the XDG spec requires), else `~/.cache/kiln/store`.
 */
export function defaultStoreRoot(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env['KILN_STORE'];
  if (explicit) return resolve(explicit);
  const xdg = env['XDG_CACHE_HOME'];
  const cache = xdg && isAbsolute(xdg) ? xdg : join(homedir(), '.cache');
  return join(cache, 'kiln', 'store');
}

/** Opens (creating or initializing it when new or empty) the store at `root`. */
export function openStore(root: string = defaultStoreRoot()): Promise<Store> {
  return Store.open(root);
}


/**
 * A file name for an arbitrary string: `[a-z0-9._-]` kept, every other byte `%XX` (uppercase hex,
 * so names never collide on case-insensitive filesystems), no leading dot; names that would be
 * longer than 180 characters become `~<sha256>`.
 */
export function safeFileName(value: string): string {
  let out = '';
  for (const b of Buffer.from(value, 'utf8')) {
    const keep =
      (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39) || b === 0x5f || b === 0x2d || (b === 0x2e && out !== '');
    out += keep ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
    if (out.length > MAX_SAFE_NAME) break;
  }
  return out === '' || out.length > MAX_SAFE_NAME ? `~${sha256Hex(value)}` : out;
}

export class Store implements ContentStore {
  private readonly blobDir: string;
  private readonly refsDir: string;
  private readonly imagesDir: string;
  private readonly containersDir: string;
  private readonly cacheDir: string;
  private readonly metaDir: string;
  private readonly tmpDir: string;
  private readonly locksDir: string;
  private readonly corruptDir: string;
  readonly unpackedDir: string;
  readonly sandboxesDir: string;
  readonly cacheMountsDir: string;
  readonly rootlessRuntimeDir: string;

  private constructor(readonly root: string) {
    this.blobDir = join(root, 'blobs', 'sha256');
    this.refsDir = join(root, 'refs');
    this.imagesDir = join(root, 'images');
    this.containersDir = join(root, 'containers');
    this.cacheDir = join(root, 'cache');
    this.metaDir = join(root, 'meta');
    this.tmpDir = join(root, 'tmp');
    this.locksDir = join(root, 'locks');
    this.corruptDir = join(root, 'corrupt');
    this.unpackedDir = join(root, 'unpacked');
    this.sandboxesDir = join(root, 'sandboxes');
    this.cacheMountsDir = join(root, 'cache-mounts');
    this.rootlessRuntimeDir = join(root, 'runc');
  }

  static async open(root: string = defaultStoreRoot()): Promise<Store> {
    const store = new Store(resolve(root));
    await store.init();
    return store;
  }

  // ---- opening ---------------------------------------------------------------------------

  private async init(): Promise<void> {
    const { root } = this;
    let entries: string[];
    try {
      entries = await readdir(root);
    } catch (err) {
      const code = errCode(err);
      if (code === 'ENOTDIR') {
        throw new StoreFormatError(
          `${root} is not a directory, so it cannot be a Kiln store: point KILN_STORE (or --store) at a directory`,
          root,
        );
      }
      if (code !== 'ENOENT') throw this.fsError(err, 'opening', root);
      await this.mkdirs(root);
      entries = [];
    }
    if (entries.includes('VERSION')) {
      await this.checkVersion();
    } else {
      const foreign = entries.filter((e) => !STORE_ENTRIES.has(e)).sort();
      if (foreign.length > 0) {
        const shown = foreign.slice(0, 3).join(', ') + (foreign.length > 3 ? ', ...' : '');
        throw new StoreFormatError(
          `${root} is not a Kiln store (it has no VERSION file) and is not empty (it holds ${shown}): ` +
            'point KILN_STORE (or --store) at an empty or new directory',
          root,
        );
      }
      const version = `${JSON.stringify({ format: STORE_FORMAT, version: STORE_FORMAT_VERSION })}\n`;
      await this.writeAtomic(join(root, 'VERSION'), version, false);
    }
    for (const dir of [this.blobDir, this.refsDir, this.cacheDir, this.metaDir, this.tmpDir, this.locksDir]) {
      await this.mkdirs(dir);
    }
    await this.cleanTemp();
  }

  private async checkVersion(): Promise<void> {
    const path = join(this.root, 'VERSION');
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      throw this.fsError(err, 'reading', path);
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      doc = undefined;
    }
    const version = isRecord(doc) ? doc['version'] : undefined;
    if (
      !isRecord(doc) ||
      doc['format'] !== STORE_FORMAT ||
      typeof version !== 'number' ||
      !Number.isInteger(version) ||
      version < 1
    ) {
      throw new StoreFormatError(
        `${path} is not a Kiln store version file (expected {"format":"${STORE_FORMAT}","version":${STORE_FORMAT_VERSION}}): ` +
          'point KILN_STORE (or --store) at another directory',
        path,
      );
    }
    if (version > STORE_FORMAT_VERSION) {
      // Later formats are expected to record the first Kiln release that reads them as `minKiln`.
      const minKiln = doc['minKiln'];
      const needed =
        typeof minKiln === 'string' && minKiln !== ''
          ? `Kiln ${minKiln} or later`
          : `a newer Kiln release that supports store format version ${version}`;
      throw new StoreFormatError(
        `the Kiln store at ${this.root} uses store format version ${version} (${path}), but this Kiln ` +
          `(${await kilnVersion()}) supports only version ${STORE_FORMAT_VERSION}: it needs ${needed}; ` +
          'upgrade Kiln, or point KILN_STORE (or --store) at another directory',
        path,
      );
    }
  }

  /**
   * Removes entries of `<root>/tmp` older than `maxAgeMs` (default one hour), except those whose
   * name says they belong to a live process on this host. Best effort; returns how many went.
   */
  async cleanTemp(maxAgeMs: number = STALE_TEMP_MS): Promise<number> {
    let names: string[];
    try {
      names = await readdir(this.tmpDir);
    } catch {
      return 0;
    }
    const now = Date.now();
    let removed = 0;
    for (const name of names) {
      const path = join(this.tmpDir, name);
      try {
        const st = await lstat(path);
        if (now - st.mtimeMs <= maxAgeMs) continue;
        if (makerAlive(name, 'k') === true) continue;
        await forceRemove(path);
        removed++;
      } catch {
        // best effort: another process may be cleaning the same entry
      }
    }
    return removed;
  }

  // ---- blobs -----------------------------------------------------------------------------

  blobPath(digest: string): string {
    return join(this.blobDir, digestHex(digest));
  }

  async hasBlob(digest: string): Promise<boolean> {
    return (await this.blobStat(digest)) !== undefined;
  }

  async blobSize(digest: string): Promise<number | undefined> {
    return (await this.blobStat(digest))?.size;
  }

  private async blobStat(digest: string): Promise<Stats | undefined> {
    const path = this.blobPath(digest);
    try {
      const st = await stat(path);
      return st.isFile() ? st : undefined;
    } catch (err) {
      if (errCode(err) === 'ENOENT') return undefined;
      throw this.fsError(err, 'reading', path);
    }
  }

  async writeBlob(data: Uint8Array, expectedDigest?: string): Promise<BlobInfo> {
    if (expectedDigest !== undefined) digestHex(expectedDigest);
    const digest = `sha256:${sha256Hex(data)}`;
    const size = data.byteLength;
    if (expectedDigest !== undefined && expectedDigest !== digest) {
      throw new DigestMismatchError(expectedDigest, digest, `a blob of ${size} bytes written to ${this.root}`);
    }
    if (!(await this.hasBlob(digest))) await this.writeAtomic(this.blobPath(digest), data, true);
    return { digest, size };
  }

  async createBlobWriter(): Promise<BlobWriter> {
    const tmp = this.tempPath('blob');
    let fh: FileHandle;
    try {
      fh = await this.createTemp(tmp);
    } catch (err) {
      throw this.fsError(err, 'writing to', this.tmpDir);
    }
    return new FileBlobWriter(fh, tmp, {
      root: this.root,
      mapError: (err) => this.fsError(err, 'writing to', tmp),
      install: (digest) => this.installBlob(tmp, digest),
    });
  }

  /** Moves a finished, verified temp file to its blob path (or drops it when the blob exists). */
  private async installBlob(tmp: string, digest: string): Promise<void> {
    const dest = this.blobPath(digest);
    try {
      if (await this.hasBlob(digest)) {
        await unlinkQuiet(tmp);
        return;
      }
      await this.renameIntoPlace(tmp, dest);
    } catch (err) {
      await unlinkQuiet(tmp);
      throw this.fsError(err, 'writing to', dest);
    }
  }

  async readBlob(digest: string): Promise<Buffer> {
    const path = this.blobPath(digest);
    const fh = await this.openForRead(digest, path);
    let data: Buffer;
    let st: Stats;
    try {
      st = await fh.stat();
      data = await fh.readFile();
    } catch (err) {
      throw this.fsError(err, 'reading', path);
    } finally {
      await fh.close().catch(() => undefined);
    }
    const actual = `sha256:${sha256Hex(data)}`;
    if (actual !== digest) throw await this.corrupt(digest, actual, path, st);
    return data;
  }

  openBlob(digest: string): Readable {
    const path = this.blobPath(digest);
    return new VerifyingBlobStream(digest, path, {
      open: () => this.openForRead(digest, path),
      corrupt: (actual, st) => this.corrupt(digest, actual, path, st),
      mapError: (err) => this.fsError(err, 'reading', path),
    });
  }

  async writeJson(doc: unknown): Promise<BlobInfo & { bytes: Buffer }> {
    const text = JSON.stringify(doc) as string | undefined;
    if (text === undefined) throw new KilnError(`cannot store ${typeof doc} as a JSON blob`);
    const bytes = Buffer.from(text, 'utf8');
    const info = await this.writeBlob(bytes);
    return { ...info, bytes };
  }

  async readJson<T>(digest: string): Promise<T> {
    const data = await this.readBlob(digest);
    try {
      return JSON.parse(data.toString('utf8')) as T;
    } catch (err) {
      throw new KilnError(`blob ${digest} in the Kiln store at ${this.root} is not JSON: ${(err as Error).message}`);
    }
  }

  private async openForRead(digest: string, path: string): Promise<FileHandle> {
    try {
      return await open(path, 'r');
    } catch (err) {
      if (errCode(err) === 'ENOENT') throw new BlobNotFoundError(digest, this.root);
      throw this.fsError(err, 'reading', path);
    }
  }

  /** Moves a blob that failed verification to corrupt/ and returns the error to throw. */
  private async corrupt(digest: string, actual: string, path: string, readFrom?: Stats): Promise<StoreCorruptionError> {
    const movedTo = await this.quarantine(path, readFrom);
    const what = movedTo
      ? `it was moved to ${movedTo} and will not be used again; pull or build the image again`
      : `remove ${path} and pull or build the image again`;
    return new StoreCorruptionError(
      `blob ${digest} in the Kiln store at ${this.root} is corrupt (its content hashes to ${actual}): ${what}`,
      digest,
      path,
    );
  }

  /**
   * Best effort: renames `path` into corrupt/, but only if it is still the file that was read
   * (a concurrent writer may have replaced it with good bytes).
   */
  private async quarantine(path: string, readFrom?: Stats): Promise<string | undefined> {
    try {
      if (readFrom) {
        const now = await stat(path);
        if (now.ino !== readFrom.ino || now.dev !== readFrom.dev) return undefined;
      }
      await mkdir(this.corruptDir, { recursive: true });
      const dest = join(this.corruptDir, `${basename(path)}.${Date.now()}-${randomBytes(4).toString('hex')}`);
      await rename(path, dest);
      return dest;
    } catch {
      return undefined;
    }
  }

  async verify(): Promise<VerifyReport> {
    let names: string[];
    try {
      names = await readdir(this.blobDir);
    } catch (err) {
      if (errCode(err) === 'ENOENT') return { checked: 0, corrupt: [] };
      throw this.fsError(err, 'reading', this.blobDir);
    }
    const hexes = names.filter((n) => HEX64_RE.test(n)).sort();
    let checked = 0;
    const corrupt: string[] = [];
    await forEachLimit(hexes, VERIFY_CONCURRENCY, async (hex) => {
      const digest = `sha256:${hex}`;
      const path = join(this.blobDir, hex);
      let fh: FileHandle;
      try {
        fh = await open(path, 'r');
      } catch (err) {
        if (errCode(err) === 'ENOENT') return; // removed meanwhile
        throw this.fsError(err, 'reading', path);
      }
      let st: Stats;
      let actual: string;
      try {
        st = await fh.stat();
        actual = await hashFile(fh);
      } catch (err) {
        throw this.fsError(err, 'reading', path);
      } finally {
        await fh.close().catch(() => undefined);
      }
      checked++;
      if (actual !== digest) {
        await this.quarantine(path, st);
        corrupt.push(digest);
      }
    });
    corrupt.sort();
    return { checked, corrupt };
  }

  // ---- refs ------------------------------------------------------------------------------

  private refPath(ref: string): string {
    if (typeof ref !== 'string' || ref === '') throw new KilnError('an image reference must not be empty');
    return join(this.refsDir, `${safeFileName(ref)}.json`);
  }

  async setRef(ref: string, digest: string): Promise<void> {
    const path = this.refPath(ref);
    digestHex(digest);
    const record: RefRecord = { ref, digest, updated: Date.now() };
    await this.writeAtomic(path, `${JSON.stringify(record)}\n`, false);
  }

  async getRef(ref: string): Promise<string | undefined> {
    const record = await this.readRefFile(this.refPath(ref));
    return record?.ref === ref ? record.digest : undefined;
  }

  async deleteRef(ref: string): Promise<boolean> {
    const path = this.refPath(ref);
    return this.removeFile(path);
  }

  async listRefs(): Promise<RefRecord[]> {
    let names: string[];
    try {
      names = await readdir(this.refsDir);
    } catch (err) {
      if (errCode(err) === 'ENOENT') return [];
      throw this.fsError(err, 'reading', this.refsDir);
    }
    const records: RefRecord[] = [];
    await forEachLimit(
      names.filter((n) => n.endsWith('.json') && !n.startsWith('.')),
      16,
      async (name) => {
        const record = await this.readRefFile(join(this.refsDir, name));
        if (record) records.push(record);
      },
    );
    return records.sort((a, b) => (a.ref < b.ref ? -1 : a.ref > b.ref ? 1 : 0));
  }

  private async readRefFile(path: string): Promise<RefRecord | undefined> {
    const doc = await this.readJsonFile(path);
    if (doc === undefined) return undefined;
    if (
      doc.ok &&
      isRecord(doc.value) &&
      typeof doc.value['ref'] === 'string' &&
      typeof doc.value['digest'] === 'string' &&
      isDigest(doc.value['digest']) &&
      typeof doc.value['updated'] === 'number'
    ) {
      return { ref: doc.value['ref'], digest: doc.value['digest'], updated: doc.value['updated'] };
    }
    throw new StoreCorruptionError(
      `${path} is not a valid Kiln ref record: delete it and tag the image again`,
      undefined,
      path,
    );
  }

  // ---- images ----------------------------------------------------------------------------

  private imagePath(digest: string): string {
    return join(this.imagesDir, `${digestHex(digest)}.json`);
  }

  async addImage(digest: string, repoDigest?: string): Promise<void> {
    const path = this.imagePath(digest);
    const doc = await this.readJsonFile(path);
    const known = doc?.ok && isRecord(doc.value) ? (doc.value as unknown as ImageRecord) : undefined;
    if (known && (repoDigest === undefined || known.repoDigests?.includes(repoDigest))) return;
    const repoDigests = [...(known?.repoDigests ?? []), ...(repoDigest ? [repoDigest] : [])].sort();
    const record: ImageRecord = { digest, added: known?.added ?? Date.now(), ...(repoDigests.length ? { repoDigests } : {}) };
    await this.writeAtomic(path, `${JSON.stringify(record)}\n`, false);
  }

  async listImages(): Promise<ImageRecord[]> {
    const names = await this.namesIn(this.imagesDir);
    const byDigest = new Map<string, ImageRecord>();
    await forEachLimit(
      names.filter((n) => n.endsWith('.json') && !n.startsWith('.')),
      16,
      async (name) => {
        const doc = await this.readJsonFile(join(this.imagesDir, name));
        const value = doc?.ok && isRecord(doc.value) ? doc.value : undefined;
        // A damaged record only loses when the image came: the ref (if any) still names it.
        if (value && typeof value['digest'] === 'string' && isDigest(value['digest']) && typeof value['added'] === 'number') {
          const repoDigests = Array.isArray(value['repoDigests']) ? value['repoDigests'].filter((r): r is string => typeof r === 'string') : [];
          byDigest.set(value['digest'], { digest: value['digest'], added: value['added'], ...(repoDigests.length ? { repoDigests } : {}) });
        }
      },
    );
    for (const ref of await this.listRefs()) {
      const known = byDigest.get(ref.digest);
      if (!known) byDigest.set(ref.digest, { digest: ref.digest, added: ref.updated });
    }
    return [...byDigest.values()].sort((a, b) => b.added - a.added || (a.digest < b.digest ? -1 : 1));
  }

  async removeImage(digest: string): Promise<boolean> {
    const path = this.imagePath(digest);
    return this.removeFile(path);
  }

  // ---- containers ------------------------------------------------------------------------

  private containerPath(id: string): string {
    if (!HEX64_RE.test(id)) throw new KilnError(`not a container ID: ${id}`);
    return join(this.containersDir, `${id}.json`);
  }

  async saveContainer(record: ContainerRecord): Promise<void> {
    await this.writeAtomic(this.containerPath(record.id), `${JSON.stringify(record)}\n`, false);
  }

  async listContainers(): Promise<ContainerRecord[]> {
    const out: ContainerRecord[] = [];
    for (const name of (await this.namesIn(this.containersDir)).filter((n) => n.endsWith('.json'))) {
      const doc = await this.readJsonFile(join(this.containersDir, name));
      if (doc?.ok && isRecord(doc.value) && typeof doc.value['id'] === 'string' && typeof doc.value['name'] === 'string') out.push(doc.value as unknown as ContainerRecord);
    }
    return out.sort((a, b) => b.created - a.created);
  }

  async removeContainer(id: string): Promise<boolean> {
    return this.removeFile(this.containerPath(id));
  }

  /** Unlink a record file: true when it was there. */
  private async removeFile(path: string): Promise<boolean> {
    try {
      await unlink(path);
      return true;
    } catch (err) {
      if (errCode(err) === 'ENOENT') return false;
      throw this.fsError(err, 'removing', path);
    }
  }

  // ---- build cache -----------------------------------------------------------------------

  private cachePath(key: string): string {
    return join(this.cacheDir, `${sha256Hex(key)}.json`);
  }

  async getCache(key: string): Promise<CacheRecord | undefined> {
    const doc = await this.readJsonFile(this.cachePath(key));
    // A damaged cache file is a cache miss; the next putCache replaces it.
    if (!doc?.ok || !isRecord(doc.value) || doc.value['key'] !== key) return undefined;
    const record = doc.value['record'];
    if (!isRecord(record) || typeof record['created'] !== 'number' || !('layer' in record)) return undefined;
    // The file's mtime is the record's last use: what `builder prune --filter until=` and
    // --keep-storage go by.
    const now = new Date();
    await utimes(this.cachePath(key), now, now).catch(() => undefined);
    return record as unknown as CacheRecord;
  }

  async putCache(key: string, record: CacheRecord): Promise<void> {
    if (record.layer) {
      digestHex(record.layer.digest);
      digestHex(record.layer.diffId);
    }
    await this.writeAtomic(this.cachePath(key), `${JSON.stringify({ key, record })}\n`, false);
  }

  // ---- maintenance (garbage collection) --------------------------------------------------

  /** The entries of a store directory; none when it does not exist yet. */
  private async namesIn(dir: string): Promise<string[]> {
    try {
      return await readdir(dir);
    } catch (err) {
      if (errCode(err) === 'ENOENT') return [];
      throw this.fsError(err, 'reading', dir);
    }
  }

  async listBlobs(): Promise<StoredBlob[]> {
    const out: StoredBlob[] = [];
    const names = await this.namesIn(this.blobDir);
    await forEachLimit(names.filter((n) => HEX64_RE.test(n)), 16, async (hex) => {
      const st = await stat(join(this.blobDir, hex)).catch(() => undefined);
      if (st) out.push({ digest: `sha256:${hex}`, size: st.size, mtime: st.mtimeMs });
    });
    return out.sort((a, b) => (a.digest < b.digest ? -1 : 1));
  }

  async removeBlob(digest: string): Promise<void> {
    await unlinkQuiet(this.blobPath(digest));
    // Side files named after the blob (a layer's spans, its entry list) go with it,
    // so the meta folder does not keep growing after the layers are gone.
    const hex = digest.slice(digest.indexOf(':') + 1);
    for (const kind of await this.namesIn(this.metaDir)) {
      for (const id of [digest, hex]) await unlinkQuiet(join(this.metaDir, kind, `${safeFileName(id)}.json`));
    }
  }

  async listCacheRecords(): Promise<StoredCacheRecord[]> {
    const out: StoredCacheRecord[] = [];
    const names = await this.namesIn(this.cacheDir);
    await forEachLimit(names.filter((n) => n.endsWith('.json') && !n.startsWith('.')), 16, async (name) => {
      const path = join(this.cacheDir, name);
      // A record that is gone meanwhile is skipped; one that cannot be read stops the caller.
      const [st, doc] = await Promise.all([stat(path).catch(() => undefined), this.readJsonFile(path)]);
      const record = doc?.ok && isRecord(doc.value) ? doc.value['record'] : undefined;
      if (st && isRecord(record) && 'layer' in record) {
        out.push({ id: name.slice(0, -'.json'.length), record: record as unknown as CacheRecord, used: st.mtimeMs, size: st.size });
      }
    });
    return out.sort((a, b) => a.used - b.used);
  }

  async removeCacheRecord(id: string): Promise<void> {
    if (!HEX64_RE.test(id)) throw new KilnError(`not a build cache record: ${id}`);
    await unlinkQuiet(join(this.cacheDir, `${id}.json`));
  }

  async listUnpackedLayers(): Promise<StoredDirectory[]> {
    return this.listArea(this.unpackedDir, async () => undefined);
  }

  async listCacheMounts(): Promise<StoredDirectory[]> {
    return this.listArea(this.cacheMountsDir, async (name) => {
      const doc = await this.readJsonFile(join(this.cacheMountsDir, `${name}.json`)).catch(() => undefined);
      const id = doc?.ok && isRecord(doc.value) ? doc.value['id'] : undefined;
      return typeof id === 'string' ? id : undefined;
    });
  }

  /** The directories of an area, with their side file's (or their own) mtime as last use. */
  private async listArea(dir: string, describe: (name: string) => Promise<string | undefined>): Promise<StoredDirectory[]> {
    // Through sudo, RUN's unpacked layers stay root's (0700): this user lists none of them
    // (`sudo kiln system df` does).
    const names = await this.namesIn(dir).catch((err: unknown) => {
      if (err instanceof StoreAccessError && (err.code === 'EACCES' || err.code === 'EPERM')) return [] as string[];
      throw err;
    });
    const out: StoredDirectory[] = [];
    for (const name of names.filter((n) => HEX64_RE.test(n))) {
      const path = join(dir, name);
      const side = await stat(`${path}.json`).catch(() => undefined);
      const own = await stat(path).catch(() => undefined);
      if (!own?.isDirectory()) continue;
      const description = await describe(name);
      out.push({ name, path, used: (side ?? own).mtimeMs, ...(description !== undefined ? { description } : {}) });
    }
    return out.sort((a, b) => a.used - b.used);
  }

  async removeDirectory(entry: StoredDirectory): Promise<void> {
    const parent = dirname(entry.path);
    if ((parent !== this.unpackedDir && parent !== this.cacheMountsDir) || basename(entry.path) !== entry.name || !HEX64_RE.test(entry.name)) {
      throw new KilnError(`refusing to remove ${entry.path}: not an unpacked layer or a cache mount of this store`);
    }
    // Renamed out of the way first, so no build sees a half-removed directory; what cannot be
    // removed (files RUN made as root through sudo, or as subordinate ids) goes back, whole.
    const doomed = join(this.tmpDir, `k-${process.pid}-${HOST_TAG}-removing-${entry.name.slice(0, 12)}-${randomBytes(4).toString('hex')}`);
    await mkdir(this.tmpDir, { recursive: true });
    try {
      await rename(entry.path, doomed);
    } catch (err) {
      throw this.fsError(err, 'removing', entry.path);
    }
    const mine = typeof process.getuid !== 'function' || process.getuid() === 0 || (await ownedBy(doomed, process.getuid()));
    if (!mine) {
      await rename(doomed, entry.path);
      throw new KilnError(
        `cannot remove ${entry.path}: it holds files of other users (made by RUN through sudo, or rootless as subordinate ids); run the prune as root (sudo kiln ...)`,
      );
    }
    await unlinkQuiet(`${entry.path}.json`);
    await forceRemove(doomed);
  }

  private leasesDir(): string {
    return join(this.root, 'leases');
  }

  async withLease<T>(fn: () => Promise<T>, options: { signal?: AbortSignal } = {}): Promise<T> {
    const gcLock = join(this.locksDir, `${safeFileName(GC_LOCK)}.lock`);
    // Nested leases are one; inside this process's own collection, the collection already excludes others.
    if (leaseHeld.getStore() || heldLocks.getStore()?.has(gcLock)) return fn();
    const dir = this.leasesDir();
    await mkdir(dir, { recursive: true });
    const path = join(dir, `l-${process.pid}-${HOST_TAG}-${randomBytes(6).toString('hex')}`);
    // Written before looking for a collection, which takes its lock before counting leases:
    // whichever comes second sees the other (and a lease steps back while a collection runs).
    for (let delay = 20; ; delay = Math.min(delay * 1.5, 500)) {
      await writeFile(path, `${JSON.stringify({ pid: process.pid, host: HOST, created: Date.now() })}\n`);
      const collecting = await readLock(gcLock).catch(() => undefined);
      if (!collecting || isStaleLock(collecting)) break;
      await unlinkQuiet(path);
      await sleep(delay, options.signal);
    }
    try {
      return await leaseHeld.run(true, fn);
    } finally {
      await unlinkQuiet(path);
    }
  }

  async withoutLeases<T>(fn: () => Promise<T>, options: { waiting?: (leases: number) => void; signal?: AbortSignal } = {}): Promise<T> {
    if (leaseHeld.getStore()) throw new KilnError('a store collection cannot run inside a lease of the same process');
    return this.withLock(GC_LOCK, async () => {
      const dir = this.leasesDir();
      let told = -1;
      for (;;) {
        const names = await readdir(dir).catch(() => [] as string[]);
        let live = 0;
        for (const name of names) {
          // A lease of a process that is gone (killed) ends with it.
          if (makerAlive(name, 'l') === false) await unlinkQuiet(join(dir, name));
          else live++;
        }
        if (live === 0) break;
        if (live !== told) options.waiting?.(live);
        told = live;
        await sleep(100, options.signal);
      }
      return fn();
    }, { signal: options.signal });
  }

  // ---- meta ------------------------------------------------------------------------------

  private metaPath(kind: string, id: string): string {
    if (typeof kind !== 'string' || !META_KIND_RE.test(kind)) {
      throw new KilnError(`invalid store meta kind ${JSON.stringify(kind)}: use lowercase letters, digits and "-"`);
    }
    return join(this.metaDir, kind, `${safeFileName(String(id))}.json`);
  }

  async readMeta<T>(kind: string, id: string): Promise<T | undefined> {
    const doc = await this.readJsonFile(this.metaPath(kind, id));
    // A damaged side file reads as absent: it only caches what can be recomputed.
    return doc?.ok ? (doc.value as T) : undefined;
  }

  async writeMeta(kind: string, id: string, value: unknown): Promise<void> {
    const path = this.metaPath(kind, id);
    const text = JSON.stringify(value) as string | undefined;
    if (text === undefined) throw new KilnError(`cannot store ${typeof value} as store meta ${kind}/${id}`);
    await this.writeAtomic(path, text, false);
  }

  // ---- scratch space ---------------------------------------------------------------------

  async makeTempDir(prefix: string): Promise<string> {
    const label = String(prefix).replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 64);
    const base = join(this.tmpDir, `k-${process.pid}-${HOST_TAG}-${label}`);
    try {
      return await mkdtemp(base);
    } catch (err) {
      if (errCode(err) !== 'ENOENT') throw this.fsError(err, 'creating a directory in', this.tmpDir);
      try {
        await mkdir(this.tmpDir, { recursive: true });
        return await mkdtemp(base);
      } catch (err2) {
        throw this.fsError(err2, 'creating a directory in', this.tmpDir);
      }
    }
  }

  // ---- RUN sandbox space -----------------------------------------------------------------

  async unpackedLayer(chainId: string, unpack: (dir: string) => Promise<void>): Promise<string> {
    const hex = digestHex(chainId);
    // Private: lower layers hold setuid binaries and world-writable directories of images.
    const dir = await this.makeOnce(this.unpackedDir, hex, `unpack-${hex}`, unpack);
    // Its mtime is its last use, what `builder prune --filter until=` and --keep-storage go by.
    const now = new Date();
    await utimes(dir, now, now).catch(() => undefined);
    return dir;
  }

  async cacheMount(id: string, init: (dir: string) => Promise<void>): Promise<string> {
    const hex = sha256Hex(id);
    const side = join(this.cacheMountsDir, `${hex}.json`);
    // Private: what builds cache there (package managers' downloads) is theirs alone. The id is
    // kept beside it, for listing (system df) and pruning by id; the side file's mtime is the
    // mount's last use (what keeps it when caches are trimmed).
    const dir = await this.makeOnce(this.cacheMountsDir, hex, `cache-mount-${hex}`, async (temp) => {
      await init(temp);
      await this.writeAtomic(side, `${JSON.stringify({ id, created: new Date().toISOString() })}\n`, false);
    });
    const now = new Date();
    await utimes(side, now, now).catch(() => undefined);
    return dir;
  }

  /**
   * `<parent>/<name>`, made once across processes: when missing, `make` fills a fresh directory
   * path next to its final place (same filesystem), which is renamed in only when complete.
   */
  private async makeOnce(parent: string, name: string, lock: string, make: (dir: string) => Promise<void>): Promise<string> {
    const dir = join(parent, name);
    if (await exists(dir)) return dir;
    return this.withLock(lock, async () => {
      if (await exists(dir)) return dir;
      await mkdir(parent, { recursive: true, mode: 0o700 });
      const temp = await this.makeTempDir(`${name.slice(0, 12)}-`);
      try {
        // A path that does not exist yet, as the makers expect (tar and extract make their own root).
        const target = join(temp, 'dir');
        await mkdir(target, { mode: 0o700 });
        await make(target);
        await rename(target, dir);
      } finally {
        await forceRemove(temp).catch(() => undefined);
      }
      return dir;
    });
  }

  async makeSandboxDir(): Promise<string> {
    await mkdir(this.sandboxesDir, { recursive: true, mode: 0o700 });
    try {
      return await mkdtemp(join(this.sandboxesDir, `s-${process.pid}-${HOST_TAG}-`));
    } catch (err) {
      throw this.fsError(err, 'creating a directory in', this.sandboxesDir);
    }
  }

  isStaleSandbox(name: string): boolean {
    return makerAlive(name, 's') === false;
  }

  // ---- locks -----------------------------------------------------------------------------

  /**
   * Runs `fn` while holding the named lock, shared by every process using this store: first
   * in-process (calls queue up in order), then through `<root>/locks/<name>.lock`, created
   * exclusively and holding `{pid, host, created}`. A lock whose holder is a dead process on this
   * host is taken over. Re-entrant: `fn` (and anything it starts) may take the same lock again.
   */
  async withLock<T>(name: string, fn: () => Promise<T>, options: LockOptions = {}): Promise<T> {
    if (typeof name !== 'string' || name === '') throw new KilnError('a store lock needs a name');
    const path = join(this.locksDir, `${safeFileName(name)}.lock`);
    const held = heldLocks.getStore();
    if (held?.has(path)) return fn();

    const deadline = options.timeoutMs === undefined ? undefined : Date.now() + options.timeoutMs;
    const { signal } = options;

    // In-process queue, keyed by lock file, shared by every Store instance in this process.
    const prev = lockTails.get(path) ?? Promise.resolve();
    let releaseLocal!: () => void;
    const mine = new Promise<void>((r) => (releaseLocal = r));
    const tail = prev.then(() => mine);
    lockTails.set(path, tail);
    const done = () => {
      releaseLocal();
      // The entry goes once the queue behind it is empty (a waiter that gave up still queues behind
      // the holder, so later callers keep waiting for that holder).
      void tail.then(() => {
        if (lockTails.get(path) === tail) lockTails.delete(path);
      });
    };

    let content: string;
    try {
      if (!(await waitUntil(prev, deadline, signal))) {
        throw new LockTimeoutError(
          `timed out after ${options.timeoutMs} ms waiting for the store lock ${path}, held by this process`,
          path,
        );
      }
      content = await this.acquireFileLock(path, deadline, options);
    } catch (err) {
      done();
      throw err;
    }
    try {
      return await heldLocks.run(new Set([...(held ?? []), path]), fn);
    } finally {
      await releaseFileLock(path, content);
      done();
    }
  }

  private async acquireFileLock(path: string, deadline: number | undefined, options: LockOptions): Promise<string> {
    let delay = 5;
    for (;;) {
      options.signal?.throwIfAborted();
      const token = randomBytes(8).toString('hex');
      const content = JSON.stringify({ pid: process.pid, host: HOST, created: Date.now(), token });
      try {
        await this.createLockFile(path, content);
        heldTokens.add(token);
        return content;
      } catch (err) {
        if (errCode(err) !== 'EEXIST') throw this.fsError(err, 'creating the lock', path);
      }
      let holder: LockHolder | undefined;
      try {
        holder = await readLock(path);
        if (holder && isStaleLock(holder)) {
          await stealLock(path, holder.raw);
          continue;
        }
      } catch (err) {
        throw this.fsError(err, 'reading the lock', path);
      }
      if (!holder) continue; // released meanwhile: try again at once
      if (deadline !== undefined && Date.now() >= deadline) {
        throw new LockTimeoutError(
          `timed out after ${options.timeoutMs} ms waiting for the store lock ${path}, ${describeHolder(holder)}: ` +
            `if no Kiln process is running there, delete ${path}`,
          path,
        );
      }
      let wait = delay + Math.random() * delay;
      if (deadline !== undefined) wait = Math.max(1, Math.min(wait, deadline - Date.now()));
      await sleep(wait, options.signal);
      delay = Math.min(delay * 1.6, 250);
    }
  }

  private async createLockFile(path: string, content: string): Promise<void> {
    let fh: FileHandle;
    try {
      fh = await open(path, 'wx');
    } catch (err) {
      if (errCode(err) !== 'ENOENT') throw err;
      await mkdir(this.locksDir, { recursive: true });
      fh = await open(path, 'wx');
    }
    try {
      await fh.writeFile(content);
      await fh.close();
    } catch (err) {
      await fh.close().catch(() => undefined);
      await unlinkQuiet(path);
      throw err;
    }
  }

  // ---- plumbing --------------------------------------------------------------------------

  private fsError(err: unknown, doing: string, path: string): Error {
    return storeFsError(err, doing, path, this.root) as Error;
  }

  private tempPath(label: string): string {
    const safe = label.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 64);
    return join(this.tmpDir, `k-${process.pid}-${HOST_TAG}-${randomBytes(6).toString('hex')}-${safe}`);
  }

  private async createTemp(tmp: string): Promise<FileHandle> {
    try {
      return await open(tmp, 'wx');
    } catch (err) {
      if (errCode(err) !== 'ENOENT') throw err;
      await mkdir(this.tmpDir, { recursive: true });
      return await open(tmp, 'wx');
    }
  }

  private async renameIntoPlace(tmp: string, dest: string): Promise<void> {
    try {
      await rename(tmp, dest);
    } catch (err) {
      if (errCode(err) !== 'ENOENT') throw err;
      await mkdir(dirname(dest), { recursive: true });
      await rename(tmp, dest);
    }
  }

  /** Writes `data` to a temp file and renames it to `dest`; `sync` flushes it to disk first. */
  private async writeAtomic(dest: string, data: string | Uint8Array, sync: boolean): Promise<void> {
    const tmp = this.tempPath(basename(dest));
    try {
      const fh = await this.createTemp(tmp);
      try {
        await fh.writeFile(data);
        if (sync && SYNC_BLOBS) await fh.datasync();
      } finally {
        await fh.close();
      }
      await this.renameIntoPlace(tmp, dest);
    } catch (err) {
      await unlinkQuiet(tmp);
      throw this.fsError(err, 'writing to', dest);
    }
  }

  private async mkdirs(dir: string): Promise<void> {
    try {
      await mkdir(dir, { recursive: true });
    } catch (err) {
      throw this.fsError(err, 'creating', dir);
    }
  }

  /** Reads a small JSON file: undefined when absent, `{ok: false}` when it does not parse. */
  private async readJsonFile(path: string): Promise<{ ok: true; value: unknown } | { ok: false } | undefined> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if (errCode(err) === 'ENOENT') return undefined;
      throw this.fsError(err, 'reading', path);
    }
    try {
      return { ok: true, value: JSON.parse(text) as unknown };
    } catch {
      return { ok: false };
    }
  }
}

// ---- blob writer -----------------------------------------------------------------------------

/** A Writable that hashes every chunk and appends it to an open file, in one pass. */
class HashingFileStream extends Writable {
  readonly hash = createHash('sha256');
  size = 0;
  /** Flushes started while writing, so that the final datasync at commit has little left to do. */
  private flushing: Promise<void> = Promise.resolve();
  private unflushed = 0;

  constructor(
    private readonly fh: FileHandle,
    private readonly mapError: (err: unknown) => Error,
  ) {
    super({ highWaterMark: 1 << 20 });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    // Start the write (it runs on the thread pool) and hash while it is in flight.
    const written = writeFully(this.fh, [chunk]);
    this.hash.update(chunk);
    this.size += chunk.length;
    written.then(
      () => this.written(chunk.length, callback),
      (err: unknown) => callback(this.mapError(err)),
    );
  }

  override _writev(
    chunks: Array<{ chunk: Buffer; encoding: BufferEncoding }>,
    callback: (error?: Error | null) => void,
  ): void {
    const buffers = chunks.map((c) => c.chunk);
    const written = writeFully(this.fh, buffers);
    let bytes = 0;
    for (const b of buffers) {
      this.hash.update(b);
      bytes += b.length;
    }
    this.size += bytes;
    written.then(
      () => this.written(bytes, callback),
      (err: unknown) => callback(this.mapError(err)),
    );
  }

  private written(bytes: number, callback: (error?: Error | null) => void): void {
    this.unflushed += bytes;
    if (SYNC_BLOBS && this.unflushed >= BACKGROUND_FLUSH_BYTES) {
      this.unflushed = 0;
      // One flush at a time; its failure is reported by the final datasync in commit.
      this.flushing = this.flushing.then(() => this.fh.datasync()).catch(() => undefined);
    }
    callback();
  }

  /** Flushes everything written so far to disk. */
  async sync(): Promise<void> {
    if (!SYNC_BLOBS) return;
    await this.flushing;
    await this.fh.datasync();
  }
}

interface WriterContext {
  root: string;
  mapError: (err: unknown) => Error;
  install: (digest: string) => Promise<void>;
}

class FileBlobWriter implements BlobWriter {
  readonly stream: HashingFileStream;
  private result: Promise<BlobInfo> | undefined;
  private aborted = false;
  private closed = false;

  constructor(
    private readonly fh: FileHandle,
    private readonly tmp: string,
    private readonly ctx: WriterContext,
  ) {
    this.stream = new HashingFileStream(fh, ctx.mapError);
    // Errors surface through write() and commit(); never as an unhandled 'error' event.
    this.stream.on('error', () => undefined);
  }

  write(chunk: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.stream.errored) {
        reject(this.stream.errored);
        return;
      }
      if (this.aborted || this.result || this.stream.writableEnded || this.stream.destroyed) {
        reject(new KilnError('cannot write to a blob writer that was committed or aborted'));
        return;
      }
      this.stream.write(chunk, (err) => (err ? reject(err) : resolve()));
    });
  }

  commit(expectedDigest?: string): Promise<BlobInfo> {
    this.result ??= this.finish(expectedDigest);
    return this.result;
  }

  private async finish(expectedDigest?: string): Promise<BlobInfo> {
    try {
      if (expectedDigest !== undefined) digestHex(expectedDigest);
      if (this.aborted) throw new KilnError('cannot commit a blob writer that was aborted');
      if (!this.stream.writableEnded) this.stream.end();
      await finished(this.stream);
      try {
        await this.stream.sync();
        this.closed = true;
        await this.fh.close();
      } catch (err) {
        throw this.ctx.mapError(err);
      }
      const digest = `sha256:${this.stream.hash.digest('hex')}`;
      const size = this.stream.size;
      if (expectedDigest !== undefined && expectedDigest !== digest) {
        throw new DigestMismatchError(expectedDigest, digest, `a blob of ${size} bytes written to ${this.ctx.root}`);
      }
      await this.ctx.install(digest);
      return { digest, size };
    } catch (err) {
      await this.discard();
      throw err;
    }
  }

  async abort(): Promise<void> {
    if (this.result) {
      await this.result.then(
        () => undefined,
        () => undefined,
      );
      return;
    }
    this.aborted = true;
    await this.discard();
  }

  private async discard(): Promise<void> {
    this.stream.destroy();
    if (!this.closed) {
      this.closed = true;
      await this.fh.close().catch(() => undefined);
    }
    await unlinkQuiet(this.tmp);
  }
}

// ---- verifying reader ------------------------------------------------------------------------

interface ReaderContext {
  open: () => Promise<FileHandle>;
  corrupt: (actual: string, readFrom: Stats) => Promise<Error>;
  mapError: (err: unknown) => Error;
}

/** Streams a blob file and fails at its end when the bytes do not hash to the digest. */
class VerifyingBlobStream extends Readable {
  private fh: FileHandle | undefined;
  private stats: Stats | undefined;
  private readonly hash = createHash('sha256');

  constructor(
    private readonly digest: string,
    readonly path: string,
    private readonly ctx: ReaderContext,
  ) {
    super({ highWaterMark: READ_CHUNK });
  }

  override _construct(callback: (error?: Error | null) => void): void {
    this.ctx.open().then(
      async (fh) => {
        this.fh = fh;
        try {
          this.stats = await fh.stat();
          callback();
        } catch (err) {
          callback(this.ctx.mapError(err));
        }
      },
      (err: Error) => callback(err),
    );
  }

  override _read(): void {
    this.readChunk().catch((err: unknown) => this.destroy(err instanceof Error ? err : new Error(String(err))));
  }

  private async readChunk(): Promise<void> {
    const fh = this.fh;
    if (!fh) return;
    const buf = Buffer.allocUnsafe(READ_CHUNK);
    let bytesRead: number;
    try {
      ({ bytesRead } = await fh.read(buf, 0, READ_CHUNK, null));
    } catch (err) {
      throw this.ctx.mapError(err);
    }
    if (bytesRead > 0) {
      const chunk = bytesRead === READ_CHUNK ? buf : buf.subarray(0, bytesRead);
      this.hash.update(chunk);
      this.push(chunk);
      return;
    }
    const actual = `sha256:${this.hash.digest('hex')}`;
    if (actual !== this.digest) throw await this.ctx.corrupt(actual, this.stats as Stats);
    this.push(null);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const fh = this.fh;
    this.fh = undefined;
    if (!fh) {
      callback(error);
      return;
    }
    fh.close().then(
      () => callback(error),
      () => callback(error),
    );
  }
}

// ---- lock helpers ----------------------------------------------------------------------------

const lockTails = new Map<string, Promise<void>>();
const heldLocks = new AsyncLocalStorage<ReadonlySet<string>>();
/** Set inside withLease: nested leases (a build that pulls) are one. */
const leaseHeld = new AsyncLocalStorage<boolean>();
/** The lock a collection holds (see withLease / withoutLeases). */
const GC_LOCK = 'gc';
/** Tokens of the lock files this process holds (tells our own locks from a dead namesake's). */
const heldTokens = new Set<string>();

interface LockHolder {
  raw: string;
  mtimeMs: number;
  pid?: number;
  host?: string;
  created?: number;
  token?: string;
}

async function readLock(path: string): Promise<LockHolder | undefined> {
  let raw: string;
  let mtimeMs: number;
  try {
    const fh = await open(path, 'r');
    try {
      mtimeMs = (await fh.stat()).mtimeMs;
      raw = await fh.readFile('utf8');
    } finally {
      await fh.close();
    }
  } catch (err) {
    if (errCode(err) === 'ENOENT') return undefined;
    throw err;
  }
  const holder: LockHolder = { raw, mtimeMs };
  try {
    const doc = JSON.parse(raw) as unknown;
    if (isRecord(doc)) {
      if (typeof doc['pid'] === 'number') holder.pid = doc['pid'];
      if (typeof doc['host'] === 'string') holder.host = doc['host'];
      if (typeof doc['created'] === 'number') holder.created = doc['created'];
      if (typeof doc['token'] === 'string') holder.token = doc['token'];
    }
  } catch {
    // half-written or foreign: judged by age below
  }
  return holder;
}

function isStaleLock(holder: LockHolder): boolean {
  if (holder.pid === undefined || holder.host === undefined) {
    return Date.now() - holder.mtimeMs > UNREADABLE_LOCK_STALE_MS;
  }
  if (holder.host !== HOST) return false; // cannot tell whether a process on another host lives
  if (holder.pid === process.pid) return holder.token === undefined || !heldTokens.has(holder.token);
  return !pidAlive(holder.pid);
}

/**
 * Removes a stale lock file, but only if it still holds `raw`: stealers serialize on
 * `<lock>.steal` so two of them never remove a lock a third has just taken.
 */
async function stealLock(path: string, raw: string): Promise<void> {
  const guard = `${path}.steal`;
  try {
    const fh = await open(guard, 'wx');
    await fh.close();
  } catch (err) {
    if (errCode(err) !== 'EEXIST') throw err;
    try {
      const st = await stat(guard);
      if (Date.now() - st.mtimeMs > UNREADABLE_LOCK_STALE_MS) await unlinkQuiet(guard);
    } catch {
      // gone already
    }
    await sleep(5);
    return;
  }
  try {
    const now = await readFile(path, 'utf8').catch(() => undefined);
    if (now === raw) await unlinkQuiet(path);
  } finally {
    await unlinkQuiet(guard);
  }
}

async function releaseFileLock(path: string, content: string): Promise<void> {
  try {
    const now = await readFile(path, 'utf8').catch(() => undefined);
    if (now === content) await unlinkQuiet(path);
  } finally {
    const token = (JSON.parse(content) as { token: string }).token;
    heldTokens.delete(token);
  }
}

function describeHolder(holder: LockHolder): string {
  if (holder.pid === undefined || holder.host === undefined) return 'whose holder is unknown';
  const since = holder.created === undefined ? '' : ` since ${new Date(holder.created).toISOString()}`;
  return `held by pid ${holder.pid} on ${holder.host}${since}`;
}

/** Waits for `p`; false when the deadline passes first. Rejects when the signal aborts. */
async function waitUntil(p: Promise<void>, deadline: number | undefined, signal: AbortSignal | undefined): Promise<boolean> {
  if (deadline === undefined && !signal) {
    await p;
    return true;
  }
  signal?.throwIfAborted();
  return new Promise<boolean>((resolvePromise, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const finish = (fn: () => void) => {
      if (timer) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      fn();
    };
    const onAbort = () => finish(() => reject(signal?.reason));
    signal?.addEventListener('abort', onAbort, { once: true });
    if (deadline !== undefined) {
      timer = setTimeout(() => finish(() => resolvePromise(false)), Math.max(0, deadline - Date.now()));
    }
    p.then(() => finish(() => resolvePromise(true)));
  });
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolvePromise();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

// ---- small helpers ---------------------------------------------------------------------------

function errCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Whether a process with this pid exists on this host (EPERM: it exists, owned by someone else). */
/**
 * For a name `PREFIX-<pid>-<host tag>-...` (temp files `k-`, sandboxes `s-`): whether the process
 * that made it still runs; undefined when the name is not of that form or was made on another host.
 */
function makerAlive(name: string, prefix: string): boolean | undefined {
  const m = /^([a-z])-(\d+)-([0-9a-f]{8})-/.exec(name);
  if (!m || m[1] !== prefix || m[3] !== HOST_TAG) return undefined;
  return pidAlive(Number(m[2]));
}

function pidAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errCode(err) !== 'ESRCH';
  }
}

async function unlinkQuiet(path: string): Promise<void> {
  await unlink(path).catch(() => undefined);
}

/** rm -rf that also copes with directories left without write permission (extracted rootfs). */
async function forceRemove(path: string): Promise<void> {
  try {
    await rm(path, { recursive: true, force: true });
  } catch (err) {
    const code = errCode(err);
    if (code !== 'EACCES' && code !== 'EPERM') throw err;
    await makeWritable(path);
    await rm(path, { recursive: true, force: true });
  }
}

async function makeWritable(path: string): Promise<void> {
  const st = await lstat(path);
  if (!st.isDirectory()) return;
  await chmod(path, 0o700);
  for (const name of await readdir(path)) await makeWritable(join(path, name));
}

async function writeFully(fh: FileHandle, buffers: Buffer[]): Promise<void> {
  if (buffers.length === 1) {
    const buf = buffers[0] as Buffer;
    let off = 0;
    while (off < buf.length) {
      const { bytesWritten } = await fh.write(buf, off, buf.length - off);
      off += bytesWritten;
    }
    return;
  }
  const total = buffers.reduce((n, b) => n + b.length, 0);
  let { bytesWritten } = await fh.writev(buffers);
  if (bytesWritten === total) return;
  for (const buf of buffers) {
    if (bytesWritten >= buf.length) {
      bytesWritten -= buf.length;
      continue;
    }
    await writeFully(fh, [buf.subarray(bytesWritten)]);
    bytesWritten = 0;
  }
}

async function hashFile(fh: FileHandle): Promise<string> {
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(VERIFY_CHUNK);
  for (;;) {
    const { bytesRead } = await fh.read(buf, 0, VERIFY_CHUNK, null);
    if (bytesRead === 0) break;
    hash.update(buf.subarray(0, bytesRead));
  }
  return `sha256:${hash.digest('hex')}`;
}

async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

let cachedKilnVersion: string | undefined;
async function kilnVersion(): Promise<string> {
  if (cachedKilnVersion === undefined) {
    try {
      const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as {
        version?: unknown;
      };
      cachedKilnVersion = typeof pkg.version === 'string' ? `version ${pkg.version}` : 'version unknown';
    } catch {
      cachedKilnVersion = 'version unknown';
    }
  }
  return cachedKilnVersion;
}

/** Whether every entry under `path` belongs to `uid` (what a user can remove without root). */
async function ownedBy(path: string, uid: number): Promise<boolean> {
  const st = await lstat(path).catch(() => undefined);
  if (!st) return true;
  if (st.uid !== uid) return false;
  if (!st.isDirectory()) return true;
  for (const name of await readdir(path).catch(() => [] as string[])) if (!(await ownedBy(join(path, name), uid))) return false;
  return true;
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}
