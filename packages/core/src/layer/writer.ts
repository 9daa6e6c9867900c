// Deterministic layer writer: identical entries give byte-identical tar (diffID) and, with the same
// zlib build, byte-identical gzip (digest). One pass: tar bytes (archive/tar.ts) -> sha256 (diffID)
// -> gzip (on several cores, archive/compression.ts) -> sha256 (digest) -> the store's BlobWriter.
// File bodies are streamed from disk.

import { createHash } from 'node:crypto';
import { closeSync, constants as fsc, openSync, readSync } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { parallelGzip } from '../archive/compression.js';
import { MAX_OCTAL_12, MAX_OCTAL_8, TAR_HEADER_ENCODING, isEntryType, writeTar } from '../archive/tar.js';
import type { EncodedTarEntries, TarEntry, TarHeader } from '../archive/tar.js';
import { KilnError } from '../errors.js';
import { MediaTypes } from '../oci/media-types.js';
import type { BlobWriterFactory, LayerRecord } from '../contracts/blobs.js';
import { LayerEntryError, comparePaths, validateEntryPath } from './entry.js';
import type { LayerEntry } from './entry.js';

export interface WriteLayerOptions {
  /** Seconds since the Unix epoch (SOURCE_DATE_EPOCH): every mtime is clamped to it. */
  epoch: number;
  /** Default 'gzip'. */
  compression?: 'gzip' | 'none';
  /** zlib level 0-9, default 6. */
  gzipLevel?: number;
  /**
   * A plain layer this one replaces (the same step's last build): entries whose header and
   * content are unchanged are copied from it as byte ranges instead of being read and encoded
   * again. The bytes are the same either way, so the digest is that of a fresh write.
   */
  reuse?: LayerSpans & { file: string };
  /** Return the spans of this layer's entries (plain layers only), for a later write to reuse. */
  spans?: boolean;
}

/**
 * Where each entry of a plain layer lies: by the entry's fingerprint (its header and content
 * digest), the offset and length of its bytes (pax header, header, body, padding). `size` is the
 * whole tar's, to recognise the blob.
 */
export interface LayerSpans {
  size: number;
  spans: [fingerprint: string, offset: number, length: number][];
}

export type WrittenLayer = LayerRecord & {
  /** Size of the uncompressed tar (the bytes the diffID is computed over). */
  uncompressedSize: number;
  /** Number of filesystem entries in the tar (extended headers not counted). */
  entries: number;
  /** The entries' headers as written (sorted, mtimes clamped, hardlinks reordered). */
  headers: TarHeader[];
  /** With `spans` (and no compression): where each entry whose content is known lies. */
  spans?: LayerSpans;
  /** Entries copied from `reuse` instead of being read and encoded. */
  reused: number;
};

/** Raised when a file given by path changed (size or type) while the layer was written. */
export class LayerSourceChangedError extends KilnError {}

/** Read size for file bodies streamed from disk. */
const READ_CHUNK = 256 * 1024;
/** Read size for byte ranges copied from a replaced layer. */
const RANGE_CHUNK = 1024 * 1024;
/** Files smaller than this are read whole. */
const SMALL_FILE = 64 * 1024;
/** Largest security.capability value (vfs_cap_data v3 is 24 bytes). */
const MAX_CAPABILITY = 64;
/** uid_t / gid_t are 32 bits. */
const MAX_ID = 0xffffffff;

/** An entry as written: its tar header (whole-second mtime, device numbers 0 but for devices) and its body's source. */
interface Prepared extends TarHeader {
  devMajor: number;
  devMinor: number;
  content?: { path: string; digest?: string } | { data: Uint8Array };
}

/**
 * Write `entries` as one layer blob into `store`. Entries are sorted by path (UTF-8 byte order),
 * owners are numeric (uname/gname empty), mtimes clamped to `options.epoch`, extended (pax) headers
 * only carry path, linkpath, size, uid and gid, and only when the ustar fields cannot hold them.
 */
export async function writeLayer(
  entries: LayerEntry[],
  store: BlobWriterFactory,
  options: WriteLayerOptions,
): Promise<WrittenLayer> {
  const compression = options.compression ?? 'gzip';
  if (compression !== 'gzip' && compression !== 'none') {
    throw new KilnError(`unsupported layer compression ${JSON.stringify(compression)} (use 'gzip' or 'none')`);
  }
  const level = options.gzipLevel ?? 6;
  if (!Number.isInteger(level) || level < 0 || level > 9) {
    throw new KilnError(`gzip level must be an integer from 0 to 9, got ${String(options.gzipLevel)}`);
  }
  if (!Number.isFinite(options.epoch) || options.epoch < 0 || options.epoch > MAX_OCTAL_12) {
    throw new KilnError(`layer epoch must be a non-negative number of seconds, got ${String(options.epoch)}`);
  }
  const epoch = Math.floor(options.epoch);
  const prepared = await prepareEntries(entries, epoch);

  // Each byte is hashed once: the store hashes the blob as it is written (its commit returns the
  // digest), so only a gzip layer needs a second hash, of the tar inside it (the diffID).
  const diffHash = compression === 'gzip' ? createHash('sha256') : undefined;
  // Spans only make sense in plain tar: a gzip stream has no byte ranges to copy.
  const fingerprints = compression === 'none' && (options.spans || options.reuse) ? prepared.map(fingerprint) : undefined;
  const plan = fingerprints ? planReuse(fingerprints, options.reuse) : undefined;
  const starts: number[] = [];
  let uncompressedSize = 0;
  // A plain layer goes straight to the blob writer, which is done with each chunk before the next
  // is asked for: the tar writer and the file reads can reuse their buffers (WriteTarOptions.recycle).
  const recycle = compression === 'none';
  async function* tarBytes(): AsyncGenerator<Buffer> {
    const items = plan && options.reuse ? withReuse(prepared, plan, options.reuse.file, recycle) : tarEntries(prepared, recycle);
    for await (const chunk of writeTar(items, { onOffset: plan ? (offset) => starts.push(offset) : undefined, recycle })) {
      diffHash?.update(chunk);
      uncompressedSize += chunk.length;
      yield chunk;
    }
  }

  const writer = await store.createBlobWriter();
  let size = 0;
  try {
    // An uncompressed layer goes straight from the tar writer to the blob (no stream buffering,
    // which would copy every chunk once more).
    const out: AsyncIterable<Buffer> =
      compression === 'gzip' ? parallelGzip(Readable.from(tarBytes(), { objectMode: false, highWaterMark: 1024 * 1024 }), { level }) : tarBytes();
    for await (const chunk of out) {
      size += chunk.length;
      await writer.write(chunk);
    }
    const info = await writer.commit();
    return {
      digest: info.digest,
      diffId: diffHash ? `sha256:${diffHash.digest('hex')}` : info.digest,
      size: info.size,
      mediaType: compression === 'gzip' ? MediaTypes.ociLayerGzip : MediaTypes.ociLayer,
      uncompressedSize,
      entries: prepared.length,
      headers: prepared.map(({ content: _content, capability: _capability, devMajor, devMinor, ...header }) =>
        header.type === 'char' || header.type === 'block' ? { ...header, devMajor, devMinor } : header),
      ...(plan && options.spans ? { spans: entrySpans(fingerprints!, plan, starts, uncompressedSize) } : {}),
      reused: plan?.reused ?? 0,
    };
  } catch (err) {
    await writer.abort().catch(() => undefined);
    throw err;
  }
}

/** Validate, normalize, sort; make every hardlink point at an entry written before it. */
async function prepareEntries(entries: LayerEntry[], epoch: number): Promise<Prepared[]> {
  const byPath = new Map<string, Prepared>();
  for (const entry of entries) {
    const p = await prepareEntry(entry, epoch);
    if (byPath.has(p.path)) throw new LayerEntryError(`duplicate layer entry ${JSON.stringify(p.path)}`);
    byPath.set(p.path, p);
  }
  reorderHardlinks(byPath);
  return [...byPath.values()].sort((a, b) => comparePaths(a.path, b.path));
}

async function prepareEntry(entry: LayerEntry, epoch: number): Promise<Prepared> {
  validateEntryPath(entry.path);
  const where = `layer entry ${JSON.stringify(entry.path)}`;
  if (!isEntryType(entry.type)) throw new LayerEntryError(`${where}: unknown type ${JSON.stringify(entry.type)}`);
  for (const [name, value] of [['uid', entry.uid], ['gid', entry.gid], ['mode', entry.mode]] as const) {
    if (!Number.isSafeInteger(value) || value < 0 || value > MAX_ID) {
      throw new LayerEntryError(`${where}: ${name} must be an integer from 0 to ${MAX_ID}, got ${String(value)}`);
    }
  }
  const mtimeIn = entry.mtime ?? epoch;
  if (!Number.isFinite(mtimeIn)) throw new LayerEntryError(`${where}: mtime must be a number of seconds`);
  const p: Prepared = {
    path: entry.path,
    type: entry.type,
    mode: entry.mode & 0o7777,
    uid: entry.uid,
    gid: entry.gid,
    size: 0,
    mtime: Math.max(0, Math.floor(Math.min(mtimeIn, epoch))),
    devMajor: 0,
    devMinor: 0,
  };
  switch (entry.type) {
    case 'file': {
      const content = entry.content;
      if (!content) {
        if (entry.size !== undefined && entry.size !== 0) {
          throw new LayerEntryError(`${where}: size ${entry.size} given but no content`);
        }
      } else if ('data' in content) {
        if (entry.size !== undefined && entry.size !== content.data.length) {
          throw new LayerEntryError(`${where}: size ${entry.size} does not match the ${content.data.length} bytes given`);
        }
        p.size = content.data.length;
        p.content = content;
      } else {
        if (entry.size !== undefined) {
          if (!Number.isSafeInteger(entry.size) || entry.size < 0) {
            throw new LayerEntryError(`${where}: size must be a non-negative integer, got ${String(entry.size)}`);
          }
          p.size = entry.size;
        } else {
          const st = await stat(content.path);
          if (!st.isFile()) throw new LayerEntryError(`${where}: ${content.path} is not a regular file`);
          p.size = st.size;
        }
        p.content = content.digest ? { path: content.path, digest: content.digest } : { path: content.path };
      }
      if (entry.capability !== undefined) {
        if (!(entry.capability instanceof Uint8Array) || entry.capability.length === 0 || entry.capability.length > MAX_CAPABILITY) {
          throw new LayerEntryError(`${where}: a file capability must be 1 to ${MAX_CAPABILITY} bytes`);
        }
        p.capability = entry.capability;
      }
      break;
    }
    case 'symlink':
      if (!entry.linkTarget || entry.linkTarget.includes('\0')) {
        throw new LayerEntryError(`${where}: a symlink needs a non-empty linkTarget without NUL bytes`);
      }
      p.linkTarget = entry.linkTarget;
      break;
    case 'hardlink':
      if (entry.linkTarget === undefined) throw new LayerEntryError(`${where}: a hardlink needs a linkTarget`);
      validateEntryPath(entry.linkTarget, `hardlink target of ${where}`);
      if (entry.linkTarget === entry.path) throw new LayerEntryError(`${where}: a hardlink cannot point at itself`);
      p.linkTarget = entry.linkTarget;
      break;
    case 'char':
    case 'block':
      for (const [name, value] of [['devMajor', entry.devMajor ?? 0], ['devMinor', entry.devMinor ?? 0]] as const) {
        if (!Number.isSafeInteger(value) || value < 0 || value > MAX_OCTAL_8) {
          throw new LayerEntryError(`${where}: ${name} must be an integer from 0 to ${MAX_OCTAL_8}, got ${String(value)}`);
        }
      }
      p.devMajor = entry.devMajor ?? 0;
      p.devMinor = entry.devMinor ?? 0;
      break;
    case 'dir':
    case 'fifo':
      break;
  }
  return p;
}

/**
 * A hardlink must come after the file it links to, but sorting by path may put it first. All
 * names of one inode share its content and metadata, so the name that sorts first carries the
 * content and the others become hardlinks to it.
 */
function reorderHardlinks(byPath: Map<string, Prepared>): void {
  const ultimate = (p: Prepared): Prepared | undefined => {
    let cur = p;
    const seen = new Set<string>();
    while (cur.type === 'hardlink') {
      if (seen.has(cur.path)) throw new LayerEntryError(`hardlink cycle through ${JSON.stringify(p.path)}`);
      seen.add(cur.path);
      const next = byPath.get(cur.linkTarget ?? '');
      if (!next) return undefined; // target not in this layer: leave the link as given
      cur = next;
    }
    return cur;
  };
  const groups = new Map<string, string[]>();
  for (const p of byPath.values()) {
    if (p.type !== 'hardlink') continue;
    const target = ultimate(p);
    if (!target) continue;
    if (target.type === 'dir') {
      throw new LayerEntryError(`layer entry ${JSON.stringify(p.path)}: a hardlink cannot point at a directory (${JSON.stringify(target.path)})`);
    }
    const names = groups.get(target.path) ?? [target.path];
    names.push(p.path);
    groups.set(target.path, names);
  }
  for (const [targetPath, names] of groups) {
    const target = byPath.get(targetPath);
    if (!target) continue;
    names.sort(comparePaths);
    const first = names[0] ?? targetPath;
    for (const name of names) {
      if (name === first) {
        byPath.set(name, { ...target, path: name });
      } else {
        byPath.set(name, {
          ...target,
          path: name,
          type: 'hardlink',
          size: 0,
          linkTarget: first,
          content: undefined,
          capability: undefined,
        });
      }
    }
  }
}

/**
 * An entry's identity in a plain layer: the header fields encodeHeader writes (and the version of
 * that encoding) and its content's digest, so equal fingerprints mean equal bytes. Undefined for a
 * file whose content digest is not known. Built from the fields rather than the encoded header:
 * encoding every header of a big layer costs more than the rest of a one-file rebuild.
 */
function fingerprint(p: Prepared): string | undefined {
  let content = '';
  if (p.type === 'file' && p.size > 0) {
    if (!p.content) return undefined;
    if ('data' in p.content) content = createHash('sha256').update(p.content.data).digest('hex');
    else if (p.content.digest) content = p.content.digest;
    else return undefined;
  }
  const capability = p.type === 'file' && p.capability ? Buffer.from(p.capability).toString('hex') : '';
  const fields = [TAR_HEADER_ENCODING, p.type, p.path, p.linkTarget ?? '', p.mode, p.uid, p.gid, p.size, Math.floor(p.mtime), p.devMajor, p.devMinor, capability, content];
  return createHash('sha256').update(fields.join('\0')).digest('base64url').slice(0, 22);
}

/**
 * The layer's items in order: entries written fresh (by index), and runs of entries copied from
 * the replaced layer, each run lying back to back there (one byte range).
 */
interface ReusePlan {
  items: ({ fresh: number } | { spans: [offset: number, length: number][] })[];
  reused: number;
}

function planReuse(fingerprints: (string | undefined)[], reuse: WriteLayerOptions['reuse']): ReusePlan {
  const known = new Map<string, [number, number]>();
  for (const [fp, offset, length] of reuse?.spans ?? []) known.set(fp, [offset, length]);
  const items: ReusePlan['items'] = [];
  let reused = 0;
  for (const [i, fp] of fingerprints.entries()) {
    const span = fp === undefined ? undefined : known.get(fp);
    if (!span) {
      items.push({ fresh: i });
      continue;
    }
    reused++;
    const last = items.at(-1);
    const lastSpan = last && 'spans' in last ? last.spans.at(-1)! : undefined;
    if (lastSpan && lastSpan[0] + lastSpan[1] === span[0]) (last as { spans: [number, number][] }).spans.push(span);
    else items.push({ spans: [span] });
  }
  return { items, reused };
}

/** The tar items: fresh entries as tarEntries gives them, reused runs as one byte range each. */
async function* withReuse(entries: Prepared[], plan: ReusePlan, file: string, recycle: boolean): AsyncGenerator<TarEntry | EncodedTarEntries> {
  let fresh: Prepared[] = [];
  for (const item of plan.items) {
    if ('fresh' in item) {
      fresh.push(entries[item.fresh]!);
      continue;
    }
    if (fresh.length) yield* tarEntries(fresh, recycle);
    fresh = [];
    const start = item.spans[0]![0];
    const length = item.spans.reduce((n, [, l]) => n + l, 0);
    yield { encoded: readRange(file, start, length), length };
  }
  if (fresh.length) yield* tarEntries(fresh, recycle);
}

/**
 * The bytes of `file` from `start`, in chunks that stay valid only until the next one is asked
 * for: two buffers take turns (one is filled ahead while the other is consumed), since on this
 * kind of machine touching fresh memory costs more than the copy itself. The one consumer,
 * writeLayer's plain path, has written each chunk before it asks for the next.
 */
async function* readRange(file: string, start: number, length: number): AsyncGenerator<Buffer> {
  const fh = await open(file, fsc.O_RDONLY);
  const buffers = [Buffer.allocUnsafe(Math.min(RANGE_CHUNK, length)), Buffer.allocUnsafe(Math.min(RANGE_CHUNK, length))];
  let turn = 0;
  const readAt = (at: number) => {
    const buf = buffers[turn++ % 2]!;
    return fh.read(buf, 0, Math.min(buf.length, length - at), start + at).then(({ bytesRead }) => buf.subarray(0, bytesRead));
  };
  let next: Promise<Buffer> | undefined = readAt(0);
  try {
    for (let done = 0; next; ) {
      const chunk: Buffer = await next;
      next = undefined;
      if (chunk.length === 0) throw new KilnError(`${file} ended at ${start + done}, before the entries it was to supply`);
      done += chunk.length;
      if (done < length) next = readAt(done);
      yield chunk;
    }
  } finally {
    await next?.catch(() => undefined);
    await fh.close();
  }
}

/**
 * The new layer's spans. The tar writer told where each item starts (a fresh entry, or a reused
 * run, then the end-of-archive blocks); a run's entries keep their old lengths, back to back.
 */
function entrySpans(fingerprints: (string | undefined)[], plan: ReusePlan, itemStarts: number[], size: number): LayerSpans {
  const starts: number[] = [];
  for (const [k, item] of plan.items.entries()) {
    let at = itemStarts[k]!;
    if ('fresh' in item) {
      starts.push(at);
      continue;
    }
    for (const [, length] of item.spans) {
      starts.push(at);
      at += length;
    }
  }
  const end = itemStarts[plan.items.length]!;
  const spans: LayerSpans['spans'] = [];
  for (const [i, fp] of fingerprints.entries()) {
    const next = i + 1 < starts.length ? starts[i + 1]! : end;
    if (fp !== undefined) spans.push([fp, starts[i]!, next - starts[i]!]);
  }
  return { size, spans };
}

/**
 * The entries with their bodies: data as given, small files read whole (synchronously: a
 * thread-pool round trip per open/read/close costs more than the read), larger files streamed.
 * With `recycle` (see WriteTarOptions), bodies read from disk go through two buffers reused for
 * every file, each body valid until the next entry is asked for.
 */
async function* tarEntries(entries: Prepared[], recycle = false): AsyncGenerator<TarEntry> {
  const scratch = recycle ? { small: Buffer.allocUnsafe(SMALL_FILE + 1), chunk: Buffer.allocUnsafe(READ_CHUNK + 1) } : undefined;
  for (const header of entries) {
    const content = header.type === 'file' && header.size > 0 ? header.content : undefined;
    if (!content) yield { header };
    else if ('data' in content) yield { header, body: content.data };
    else if (header.size < SMALL_FILE) yield { header, body: readSmallFile(content.path, header.size, header.path, scratch?.small) };
    else yield { header, body: readFileBody(content.path, header.size, header.path, scratch?.chunk) };
  }
}

function sourceChanged(file: string, entryPath: string, what: string): LayerSourceChangedError {
  return new LayerSourceChangedError(
    `${file} (layer entry ${JSON.stringify(entryPath)}) changed while the layer was being written: ${what}; ` +
      'make sure nothing modifies the build context during the build, then retry',
  );
}

function openError(err: unknown, file: string, entryPath: string): Error {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return sourceChanged(file, entryPath, 'it was deleted');
  if (code === 'EISDIR' || code === 'EAGAIN' || code === 'ENXIO') {
    return sourceChanged(file, entryPath, 'it is no longer a regular file');
  }
  return err as Error;
}

/**
 * A small file, whole: one read of size + 1 bytes also proves the end of the file (a regular file
 * only returns fewer bytes than asked at its end). O_NONBLOCK: a path replaced by a fifo cannot hang.
 */
/** A small file's bytes, read into `into` (at least size + 1 bytes) when given. */
function readSmallFile(file: string, size: number, entryPath: string, into?: Buffer): Buffer {
  // Synchronous on purpose: for small files a thread-pool round trip per open/read/close costs far
  // more than the read itself (2,000 small files took 3x as long through fs.promises).
  let fd: number;
  try {
    fd = openSync(file, fsc.O_RDONLY | fsc.O_NONBLOCK);
  } catch (err) {
    throw openError(err, file, entryPath);
  }
  try {
    const buf = into ? into.subarray(0, size + 1) : Buffer.allocUnsafe(size + 1);
    let filled = 0;
    for (;;) {
      let bytesRead: number;
      try {
        bytesRead = readSync(fd, buf, filled, buf.length - filled, filled);
      } catch (err) {
        throw openError(err, file, entryPath);
      }
      if (bytesRead === 0) break;
      filled += bytesRead;
      if (filled > size) throw sourceChanged(file, entryPath, `expected ${size} bytes, it grew`);
    }
    if (filled < size) throw sourceChanged(file, entryPath, `expected ${size} bytes, it ended after ${filled}`);
    return buf.subarray(0, size);
  } finally {
    closeSync(fd);
  }
}

/** Exactly `size` bytes of the file at `file`, streamed, or a LayerSourceChangedError. */
async function* readFileBody(file: string, size: number, entryPath: string, into?: Buffer): AsyncGenerator<Buffer> {
  const changed = (what: string) => sourceChanged(file, entryPath, what);
  let fh: FileHandle;
  try {
    fh = await open(file, fsc.O_RDONLY | fsc.O_NONBLOCK);
  } catch (err) {
    throw openError(err, file, entryPath);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw changed('it is no longer a regular file');
    if (st.size !== size) throw changed(`expected ${size} bytes, it now has ${st.size}`);
    let remaining = size;
    let position = 0;
    while (remaining > 0) {
      // The last chunk gets one spare byte: a read that fills it means the file grew.
      const last = remaining <= READ_CHUNK;
      // `into` (READ_CHUNK + 1 bytes) is reused: the consumer is done with a chunk before asking for the next.
      const buf = into ? into.subarray(0, last ? remaining + 1 : READ_CHUNK) : Buffer.allocUnsafe(last ? remaining + 1 : READ_CHUNK);
      const want = last ? remaining : READ_CHUNK;
      let filled = 0;
      for (;;) {
        const { bytesRead } = await fh.read(buf, filled, buf.length - filled, position);
        if (bytesRead === 0) break;
        filled += bytesRead;
        position += bytesRead;
        if (filled >= buf.length) break;
      }
      if (filled > want) throw changed(`expected ${size} bytes, it grew`);
      if (filled < want) throw changed(`expected ${size} bytes, it ended after ${position}`);
      remaining -= want;
      yield last ? buf.subarray(0, want) : buf;
    }
  } finally {
    await fh.close();
  }
}
