// The one deterministic tar writer: layers (layer/writer.ts) and `docker save` archives
// (oci/docker-archive.ts) are both written here. The bytes depend only on the entries given:
// ustar headers with numeric owners (uname and gname empty), a pax extended header only when a
// field does not fit (and then only path, linkpath, size, uid and gid, nothing time- or
// host-dependent), directories with a trailing '/', bodies padded to 512 bytes, two zero blocks
// at the end. Ordering, clamping and validation are the caller's.

import { Header, Pax } from 'tar';
import type { HeaderData } from 'tar';
import { KilnError } from '../errors.js';

export type EntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

/** One tar entry's metadata: what the reader (layer/reader.ts) reports and what writeTar encodes. */
export interface TarHeader {
  /** Normalized: no leading '/' or './', no trailing '/', no empty or '.' segments ('..' kept as-is).
   * The archive's root entry ('./') has the path ''. */
  path: string;
  type: EntryType;
  /** Permission bits (0o7777 mask). */
  mode: number;
  uid: number;
  gid: number;
  /** Body size in bytes (0 for everything but files). */
  size: number;
  /** Symlink: the target as-is. Hardlink: the target path, normalized like `path`. */
  linkTarget?: string;
  /** Seconds since the epoch (may be fractional when a pax header says so; written as whole seconds). */
  mtime: number;
  devMajor?: number;
  devMinor?: number;
  /**
   * Files: the raw security.capability attribute, written as a pax `SCHILY.xattr.security.capability`
   * record (as GNU tar and BuildKit write it). The layer reader does not report it.
   */
  capability?: Uint8Array;
}

/** One entry for writeTar: its header and, for a file, exactly `header.size` bytes, whole or streamed. */
export interface TarEntry {
  header: TarHeader;
  body?: Uint8Array | AsyncIterable<Uint8Array>;
}

/**
 * Bytes of entries already encoded by this writer (headers, bodies and padding, as an earlier
 * archive holds them), passed through as they are: how a layer reuses the unchanged part of the
 * layer it replaces. `length` is checked.
 */
export interface EncodedTarEntries {
  encoded: AsyncIterable<Buffer>;
  length: number;
}

/** Raised when an entry cannot be written as given (a body of another size than its header says). */
export class TarWriteError extends KilnError {}

export const TAR_BLOCK = 512;
/** Largest values the ustar numeric fields hold as octal. */
export const MAX_OCTAL_8 = 0o7777777;
export const MAX_OCTAL_12 = 0o77777777777;
/** Small headers and bodies are gathered into chunks of about this size. */
const BATCH = 64 * 1024;

const TAR_TYPE: Record<EntryType, NonNullable<HeaderData['type']>> = {
  file: 'File',
  dir: 'Directory',
  symlink: 'SymbolicLink',
  hardlink: 'Link',
  char: 'CharacterDevice',
  block: 'BlockDevice',
  fifo: 'FIFO',
};

/** Whether `type` is an entry type the writer knows. */
export function isEntryType(type: string): type is EntryType {
  return Object.prototype.hasOwnProperty.call(TAR_TYPE, type);
}

export interface WriteTarOptions {
  /** Told the byte offset at which each item starts, and at last where the end-of-archive blocks start. */
  onOffset?: (offset: number) => void;
  /**
   * Gather headers and small bodies into two buffers that take turns instead of new ones (on a
   * VM, first touches of fresh memory cost more than copying the bytes). The consumer must be done
   * with each chunk before it asks for the next; in return, a body given as bytes may be
   * overwritten by its producer once the next item is asked for.
   */
  recycle?: boolean;
}

/** Zero bytes for padding and the end-of-archive blocks (never written to). */
const ZEROS = Buffer.alloc(2 * TAR_BLOCK);
/** Size of each of the two buffers of WriteTarOptions.recycle. */
const SLAB = 256 * 1024;

/**
 * The archive's bytes, entry by entry in the order given, in chunks of about 64 KiB (256 KiB with
 * `recycle`; a large body passes through in its own chunks), ending with the two zero blocks. A body of another
 * size than its header says is a TarWriteError.
 */
export async function* writeTar(
  entries: Iterable<TarEntry | EncodedTarEntries> | AsyncIterable<TarEntry | EncodedTarEntries>,
  options: WriteTarOptions = {},
): AsyncGenerator<Buffer> {
  const { onOffset } = options;
  const gather = options.recycle ? slabGatherer() : listGatherer();
  let offset = 0;
  const add = (buf: Buffer): Buffer | undefined => {
    offset += buf.length;
    return gather.add(buf);
  };

  for await (const item of entries) {
    onOffset?.(offset);
    if ('encoded' in item) {
      const before = gather.flush();
      if (before) yield before;
      let seen = 0;
      for await (const chunk of item.encoded) {
        seen += chunk.length;
        yield chunk;
      }
      if (seen !== item.length) throw new TarWriteError(`encoded tar entries: ${seen} bytes, expected ${item.length}`);
      offset += seen;
      continue;
    }
    const { header, body } = item;
    const ready = add(encodeHeader(header));
    if (ready) yield ready;
    const size = header.type === 'file' ? header.size : 0;
    if (body === undefined) {
      if (size !== 0) throw bodySizeError(header, 0);
      continue;
    }
    if (body instanceof Uint8Array) {
      if (body.length !== size) throw bodySizeError(header, body.length);
      const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
      if (buf.length >= BATCH) {
        const before = gather.flush();
        if (before) yield before;
        offset += buf.length;
        yield buf;
      } else if (buf.length > 0) {
        const r = add(buf);
        if (r) yield r;
      }
    } else {
      const before = gather.flush();
      if (before) yield before;
      let seen = 0;
      for await (const chunk of body) {
        seen += chunk.length;
        if (seen > size) throw bodySizeError(header, seen, true);
        yield Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      }
      if (seen !== size) throw bodySizeError(header, seen);
      offset += seen;
    }
    const pad = (TAR_BLOCK - (size % TAR_BLOCK)) % TAR_BLOCK;
    if (pad) {
      const r = add(ZEROS.subarray(0, pad));
      if (r) yield r;
    }
  }
  onOffset?.(offset);
  const ready = add(ZEROS);
  if (ready) yield ready;
  const last = gather.flush();
  if (last) yield last;
}

/** Gathers small pieces into chunks: `add` returns a chunk ready to go out, `flush` what is left. */
interface Gatherer {
  add(buf: Buffer): Buffer | undefined;
  flush(): Buffer | undefined;
}

/** Keeps the pieces and joins them into a new buffer once they reach BATCH bytes. */
function listGatherer(): Gatherer {
  let pending: Buffer[] = [];
  let pendingLength = 0;
  const flush = (): Buffer | undefined => {
    if (pendingLength === 0) return undefined;
    const out = pending.length === 1 ? pending[0] : Buffer.concat(pending, pendingLength);
    pending = [];
    pendingLength = 0;
    return out;
  };
  return {
    add(buf) {
      pending.push(buf);
      pendingLength += buf.length;
      return pendingLength >= BATCH ? flush() : undefined;
    },
    flush,
  };
}

/** Copies the pieces into one of two buffers; when it is full, it goes out and the other fills. */
function slabGatherer(): Gatherer {
  const slabs = [Buffer.allocUnsafe(SLAB), Buffer.allocUnsafe(SLAB)];
  let turn = 0;
  let fill = 0;
  const flush = (): Buffer | undefined => {
    if (fill === 0) return undefined;
    const out = slabs[turn]!.subarray(0, fill);
    turn ^= 1;
    fill = 0;
    return out;
  };
  return {
    add(buf) {
      // A piece larger than a slab (a long pax header) goes out on its own, as a copy.
      if (buf.length > SLAB) {
        const before = flush();
        const copy = Buffer.from(buf);
        return before ? Buffer.concat([before, copy]) : copy;
      }
      const out = fill + buf.length > SLAB ? flush() : undefined;
      buf.copy(slabs[turn]!, fill);
      fill += buf.length;
      return out;
    },
    flush,
  };
}

function bodySizeError(h: TarHeader, got: number, larger = false): TarWriteError {
  const size = h.type === 'file' ? h.size : 0;
  const what = larger ? `is larger than its ${size} bytes` : `has ${got} bytes, expected ${size}`;
  return new TarWriteError(`tar entry ${JSON.stringify(h.path)}: the body ${what}`);
}

/**
 * The version of encodeHeader's output. Layer spans (layer/writer.ts) recognise an entry by its
 * header fields and this number, and copy its old bytes: bump it whenever encodeHeader would write
 * other bytes for the same fields, or a rebuilt layer would mix two encodings.
 */
export const TAR_HEADER_ENCODING = 1;

/** The ustar header of an entry, preceded by a pax extended header when one is needed. */
export function encodeHeader(e: TarHeader): Buffer {
  const mtime = new Date(Math.floor(e.mtime) * 1000);
  const data: HeaderData = {
    path: e.type === 'dir' ? `${e.path}/` : e.path,
    mode: e.mode,
    uid: e.uid,
    gid: e.gid,
    size: e.type === 'file' ? e.size : 0,
    mtime,
    type: TAR_TYPE[e.type],
    linkpath: e.linkTarget ?? '',
    uname: '',
    gname: '',
    devmaj: e.devMajor ?? 0,
    devmin: e.devMinor ?? 0,
  };
  const block = Buffer.alloc(TAR_BLOCK);
  const header = new Header(data);
  let needPax = header.encode(block, 0);
  // node-tar drops a directory's trailing '/' when it splits a long path into prefix + name, and
  // gives a long single-segment path the prefix '.': whenever the ustar name and prefix fields do
  // not spell the exact path, the path goes into a pax record as well.
  if (e.type === 'dir') ensureDirSlash(block);
  const forcePath = ustarPath(block) !== data.path;
  const capability = e.type === 'file' && e.capability?.length ? e.capability : undefined;
  needPax ||= forcePath || capability !== undefined;
  if (!needPax) return block;

  // Only the fields that did not fit go into the extended header: nothing time- or host-dependent.
  const pax: HeaderData = {};
  if (forcePath || fieldNeedsPax({ path: data.path })) pax.path = data.path;
  if (e.linkTarget !== undefined && fieldNeedsPax({ linkpath: e.linkTarget })) pax.linkpath = e.linkTarget;
  if (e.uid > MAX_OCTAL_8) pax.uid = e.uid;
  if (e.gid > MAX_OCTAL_8) pax.gid = e.gid;
  if (data.size !== undefined && data.size > MAX_OCTAL_12) pax.size = data.size;
  const fields = Buffer.from(new Pax(pax).encodeBody(), 'utf8');
  const body = capability ? Buffer.concat([fields, paxRecord(`SCHILY.xattr.${CAPABILITY_XATTR}`, capability)]) : fields;
  if (body.length === 0) {
    // Only a field no pax record carries (mtime, device numbers) is out of range.
    throw new TarWriteError(`tar entry ${JSON.stringify(e.path)} cannot be encoded in a tar header`);
  }
  const paxHeader = Buffer.alloc(TAR_BLOCK);
  new Header({
    path: paxHeaderName(e.path),
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: body.length,
    mtime,
    type: 'ExtendedHeader',
    linkpath: '',
    uname: '',
    gname: '',
    devmaj: 0,
    devmin: 0,
  }).encode(paxHeader, 0);
  const bodyPadded = Buffer.alloc(Math.ceil(body.length / TAR_BLOCK) * TAR_BLOCK);
  body.copy(bodyPadded);
  return Buffer.concat([paxHeader, bodyPadded, block]);
}

const CAPABILITY_XATTR = 'security.capability';

/** One pax record, `LEN key=value\n`, where LEN counts the whole record (its own digits too); the value may be binary. */
function paxRecord(key: string, value: Uint8Array): Buffer {
  const rest = Buffer.byteLength(key) + value.length + 3; // ' ', '=' and '\n'
  let length = rest + String(rest).length;
  if (String(length).length !== String(rest).length) length = rest + String(length).length;
  return Buffer.concat([Buffer.from(`${length} ${key}=`), value, Buffer.from('\n')]);
}

/** The path a ustar header's name and prefix fields spell (no pax, 155-byte prefix). */
function ustarPath(block: Buffer): string {
  const field = (start: number, size: number) => {
    const end = block.indexOf(0, start);
    return block.toString('utf8', start, end < 0 || end > start + size ? start + size : end);
  };
  const name = field(0, 100);
  const prefix = field(345, 155);
  return prefix ? `${prefix}/${name}` : name;
}

/** Make the ustar name field of a directory header end with '/' when it has room; fix the checksum. */
function ensureDirSlash(block: Buffer): void {
  let len = block.indexOf(0);
  if (len < 0 || len > 100) len = 100;
  if (len === 0 || len >= 100 || block[len - 1] === 0x2f) return;
  block[len] = 0x2f;
  block.write(`${headerChecksum(block).toString(8).padStart(6, '0')} \0`, 148, 8, 'ascii');
}

/** The checksum of a header block: the sum of its bytes, the checksum field counted as spaces. */
export function headerChecksum(block: Uint8Array): number {
  let sum = 8 * 0x20;
  for (let i = 0; i < 148; i++) sum += block[i]!;
  for (let i = 156; i < TAR_BLOCK; i++) sum += block[i]!;
  return sum;
}

function fieldNeedsPax(data: HeaderData): boolean {
  return new Header({ ...data, type: 'File' }).encode(Buffer.alloc(TAR_BLOCK), 0);
}

/** `PaxHeader/<name>`, ASCII and short, derived only from the entry's own name. */
function paxHeaderName(path: string): string {
  // eslint-disable-next-line no-control-regex
  const ascii = path.slice(path.lastIndexOf('/') + 1).replace(/[^\x20-\x7e]/g, '_');
  return `PaxHeader/${ascii}`.slice(0, 99);
}
