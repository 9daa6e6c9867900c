// Streaming layer reader over node-tar's Parser: one entry at a time, bodies as Readables, with
// backpressure all the way to the source (nothing is buffered beyond a chunk or two).

import { Readable } from 'node:stream';
import { Header, Parser, Pax } from 'tar';
import type { HeaderData, ReadEntry } from 'tar';
import { decompress } from '../archive/compression.js';
import { headerChecksum } from '../archive/tar.js';
import type { TarHeader } from '../archive/tar.js';
import { KilnError } from '../errors.js';
import type { LayerCompression } from '../oci/media-types.js';
import { LayerEntryError } from './entry.js';
import type { EntryType } from './entry.js';

export type { TarHeader } from '../archive/tar.js';

/** Called once per entry, in archive order; the next entry waits until the promise settles.
 * An unread body is drained afterwards. */
export type TarEntryHandler = (header: TarHeader, body: Readable) => Promise<void>;

/** Thrown (as a KilnError) for data that is not a valid tar / compressed stream. */
export class LayerFormatError extends KilnError {}

/**
 * Stream over the entries of a layer blob. gzip and uncompressed tar are supported everywhere;
 * zstd only where node:zlib has it (Node.js 22.15 and later), otherwise a clear KilnError: layers
 * are never handed to an external command.
 */
export async function readLayer(
  stream: Readable,
  compression: LayerCompression,
  onEntry: TarEntryHandler,
): Promise<void> {
  let plain: Readable;
  try {
    plain = decompress(stream, compression, { what: 'layers' });
  } catch (err) {
    stream.destroy();
    throw err;
  }
  await readTar(plain, onEntry, { what: 'layer' });
}

/** Normalize a path from a tar header (see TarHeader.path). */
export function normalizeTarPath(path: string): string {
  const out: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    out.push(segment);
  }
  return out.join('/');
}

const TYPES: Record<string, EntryType | undefined> = {
  File: 'file',
  OldFile: 'file',
  ContiguousFile: 'file',
  Directory: 'dir',
  GNUDumpDir: 'dir',
  SymbolicLink: 'symlink',
  Link: 'hardlink',
  CharacterDevice: 'char',
  BlockDevice: 'block',
  FIFO: 'fifo',
};

/** A tar header from node-tar's entry (or what layer/header-scan.ts decodes the same way). */
export function toHeader(e: Pick<ReadEntry, 'type' | 'path' | 'linkpath'> & { header: Pick<ReadEntry['header'], 'mode' | 'uid' | 'gid' | 'size' | 'mtime' | 'devmaj' | 'devmin'> }): TarHeader {
  const type = TYPES[e.type];
  if (!type) throw new LayerFormatError(`unsupported tar entry type ${e.type} for ${JSON.stringify(e.path)}`);
  const h = e.header;
  const header: TarHeader = {
    path: normalizeTarPath(e.path),
    type,
    mode: (h.mode ?? 0) & 0o7777,
    uid: h.uid ?? 0,
    gid: h.gid ?? 0,
    size: type === 'file' ? (h.size ?? 0) : 0,
    mtime: h.mtime ? h.mtime.getTime() / 1000 : 0,
  };
  if (type === 'symlink') header.linkTarget = e.linkpath ?? '';
  if (type === 'hardlink') header.linkTarget = normalizeTarPath(e.linkpath ?? '');
  if (type === 'char' || type === 'block') {
    header.devMajor = h.devmaj;
    header.devMinor = h.devmin;
  }
  return header;
}

/** The body of one entry as a node Readable; pausing it pauses the parser. */
function entryBody(e: ReadEntry): Readable {
  const body = new Readable({
    highWaterMark: 256 * 1024,
    read() {
      e.resume();
    },
    destroy(err, cb) {
      e.resume(); // let the parser move past the rest of this entry
      cb(err);
    },
  });
  // Errors reach a reader through its own listeners (for await, pipeline); one nobody reads
  // must not crash the process.
  body.on('error', () => undefined);
  e.on('data', (chunk: Buffer) => {
    if (body.destroyed) return;
    if (!body.push(chunk)) e.pause();
  });
  e.on('end', () => {
    if (!body.destroyed) body.push(null);
  });
  return body;
}

/**
 * Parse an uncompressed tar stream, calling `onEntry` for each entry in order. Rejects with the
 * first error: from the source, from the tar data (checksum, truncation, unknown entry types),
 * or from `onEntry`.
 */
export function readTar(
  input: Readable,
  onEntry: TarEntryHandler,
  options: { what?: string } = {},
): Promise<void> {
  const what = options.what ?? 'archive';
  const parser = new Parser({ strict: true, zstd: false, brotli: false, maxMetaEntrySize: MAX_META_ENTRY_SIZE });
  const fixer = new StrayLinknameFilter();
  const queue: ReadEntry[] = [];
  let failed = false;
  let parserDone = false;
  let consuming = false;
  let current: Readable | undefined;
  let onlyZeros = true;

  return new Promise<void>((resolve, reject) => {
    // Errors from the data are reported as KilnErrors; errors thrown by onEntry pass through as-is.
    const fail = (err: unknown, fromHandler = false) => {
      if (failed) return;
      // A tar of nothing but end-of-archive blocks is an empty archive (a RUN that changed
      // nothing has such a layer, as in BuildKit); node-tar's strict mode calls it unrecognized.
      if (onlyZeros && !fromHandler && (err as { code?: string } | undefined)?.code === 'TAR_BAD_ARCHIVE') {
        parserDone = true;
        void consume();
        return;
      }
      failed = true;
      const error = fromHandler || err instanceof KilnError ? err : formatError(err, what);
      current?.destroy(error instanceof Error ? error : new Error(String(error)));
      input.destroy();
      for (const e of queue) e.resume();
      reject(error);
    };
    const resumeInput = () => {
      if (!failed && input.isPaused()) input.resume();
    };

    const consume = async () => {
      if (consuming || failed) return;
      consuming = true;
      try {
        for (let e = queue.shift(); e && !failed; e = queue.shift()) {
          const header = toHeader(e);
          const body = entryBody(e);
          current = body;
          await onEntry(header, body);
          if (!e.emittedEnd) {
            const entry = e;
            if (!body.destroyed) body.resume();
            else entry.resume();
            await new Promise<void>((res) => {
              entry.once('end', res);
              if (entry.emittedEnd) res();
            });
          }
          current = undefined;
          resumeInput();
        }
        consuming = false;
        if (!failed && parserDone && queue.length === 0) resolve();
      } catch (err) {
        consuming = false;
        fail(err, true);
      }
    };

    parser.on('entry', (e: ReadEntry) => {
      queue.push(e);
      void consume();
    });
    parser.on('ignoredEntry', (e: ReadEntry) => {
      fail(
        e.meta
          ? new LayerFormatError(`invalid ${what}: oversized extended header before ${JSON.stringify(e.path)}`)
          : new LayerFormatError(`invalid ${what}: unsupported tar entry type ${e.type} for ${JSON.stringify(e.path)}`),
      );
    });
    parser.on('error', (err: unknown) => fail(err));
    parser.on('end', () => {
      parserDone = true;
      void consume();
    });
    parser.on('drain', resumeInput);

    input.on('error', (err) => fail(err));
    input.on('data', (chunk: Buffer) => {
      if (failed) return;
      if (onlyZeros && chunk.some((b) => b !== 0)) onlyZeros = false;
      let more = true;
      for (const part of fixer.write(chunk)) {
        if (failed) return;
        if (!parser.write(part)) more = false;
      }
      if (!more) input.pause();
    });
    input.on('end', () => {
      if (failed) return;
      const rest = fixer.end();
      if (rest) parser.write(rest);
      if (!failed) parser.end();
    });
  });
}

/** node-tar's default limit for pax and GNU long-name bodies; set explicitly so both sides agree. */
const MAX_META_ENTRY_SIZE = 1024 * 1024;

const META_TYPES = new Set([
  'ExtendedHeader',
  'OldExtendedHeader',
  'GlobalExtendedHeader',
  'NextFileHasLongPath',
  'OldGnuLongPath',
  'NextFileHasLongLinkpath',
]);

/** What node-tar's Parser makes of a header block, as far as StrayLinknameFilter needs it. */
export interface HeaderBlockInfo {
  nullBlock: boolean;
  cksumValid: boolean;
  hasPath: boolean;
  /** node-tar's type name ('File', 'Directory', 'ExtendedHeader', ...). */
  type: string;
  /** Whether the ustar linkname field (alone: pax and GNU records aside) is non-empty to node-tar. */
  hasLinkpath: boolean;
  /** Body size in bytes, as the parser will skip it. */
  size: number;
}

// node-tar's own field decoders (header.js), expression for expression, so that odd bytes (a NUL
// followed by a newline, trailing spaces) read the same here and there.
const decString = (b: Buffer, off: number, len: number): string => b.toString('utf8', off, off + len).replace(/\0.*/, '');
function decOctal(b: Buffer, off: number, len: number): number | undefined {
  const n = parseInt(b.toString('utf8', off, off + len).replace(/\0.*$/, '').trim(), 8);
  return Number.isNaN(n) ? undefined : n;
}
/**
 * decString(b, off, len) === '' without decoding when possible: a field that starts with a NUL is
 * empty unless a line terminator follows (node-tar cuts from the first NUL with a '.' pattern,
 * which stops at line terminators; 0xe2 may start U+2028 or U+2029).
 */
function emptyField(b: Buffer, off: number, len: number): boolean {
  if (b[off] !== 0) return false;
  for (let i = off + 1; i < off + len; i++) {
    const c = b[i]!;
    if (c === 0x0a || c === 0x0d || c === 0xe2) return decString(b, off, len) === '';
  }
  return true;
}

/** decString(b, off, len).slice(-1) === '/', without decoding when possible. */
function endsWithSlash(b: Buffer, off: number, len: number): boolean {
  let end = off;
  while (end < off + len && b[end] !== 0) end++;
  for (let i = end; i < off + len; i++) {
    const c = b[i]!;
    if (c === 0x0a || c === 0x0d || c === 0xe2) return decString(b, off, len).slice(-1) === '/';
  }
  return end > off && b[end - 1] === 0x2f;
}

/** Typeflags decoded on the fast path (everything else goes through node-tar's Header). */
const FAST_TYPES: Record<string, string | undefined> = {
  '': 'File', '0': 'File', '1': 'Link', '2': 'SymbolicLink', '3': 'CharacterDevice', '4': 'BlockDevice',
  '5': 'Directory', '6': 'FIFO', '7': 'ContiguousFile', D: 'GNUDumpDir', x: 'ExtendedHeader', g: 'GlobalExtendedHeader',
  L: 'NextFileHasLongPath', K: 'NextFileHasLongLinkpath',
};

/**
 * Decodes one header block as node-tar's Parser will (`new Header(block, 0, ex, gex)` and the
 * checks around it); undefined when node-tar's Header throws. The common case (no pax or GNU
 * record in effect, plain octal numbers, a usual typeflag) is decoded here directly, at a
 * fraction of the cost of a full Header; anything else goes through node-tar's Header itself.
 * @internal exported for tests
 */
export function inspectHeaderBlock(block: Buffer, ex?: HeaderData, gex?: HeaderData): HeaderBlockInfo | undefined {
  const t = decString(block, 156, 1);
  const fastType = FAST_TYPES[t];
  if (ex === undefined && gex === undefined && fastType !== undefined && !(block[124]! & 0x80) && !(block[148]! & 0x80)) {
    const sum = headerChecksum(block);
    const cksum = decOctal(block, 148, 12);
    // The path is the name, or prefix + '/' + name when a ustar header has a prefix (or has the
    // byte that says the prefix is 155 long): node-tar only needs it non-empty.
    let hasPath = !emptyField(block, 0, 100);
    if (!hasPath && block.toString('latin1', 257, 265) === 'ustar\u000000') {
      hasPath = block[475] !== 0 || !emptyField(block, 345, 130);
    }
    // As node-tar: a NUL typeflag is read as '0', and a '0' whose name ends in '/' is a directory.
    const type = fastType === 'File' && endsWithSlash(block, 0, 100) ? 'Directory' : fastType;
    const size = type === 'Directory' ? 0 : (decOctal(block, 124, 12) ?? 0);
    return {
      nullBlock: cksum === undefined && sum === 8 * 0x20,
      cksumValid: sum === cksum,
      hasPath,
      type,
      hasLinkpath: !emptyField(block, 157, 100),
      size: size < 0 ? 0 : size,
    };
  }
  let h: Header;
  try {
    h = new Header(block, 0, ex, gex);
  } catch {
    return undefined;
  }
  const size = Number(h.size ?? 0);
  return {
    nullBlock: h.nullBlock,
    cksumValid: h.cksumValid,
    hasPath: !!h.path,
    type: h.type,
    hasLinkpath: !!h.linkpath,
    size: Number.isFinite(size) && size > 0 ? size : 0,
  };
}

/**
 * A streaming pre-pass over an uncompressed tar that clears the linkname field of headers that
 * are not links (fixing their checksum), so that node-tar's Parser takes them for what their
 * type says.
 *
 * Why: docker 20.10's overlay2 differ writes whiteouts (`.wh.name`) as regular files that keep
 * the linkname of an earlier entry. overlayfs whiteouts are 0/0 character devices hardlinked to
 * one another, so Docker's tar writer records the second and later ones of a layer as hardlinks
 * to the first (e.g. `etc/.wh.group` with linkname `bin/diff` after `bin/.wh.diff`); its whiteout
 * converter then makes each a regular file without clearing the linkname (a long one would also
 * be in a pax `linkpath` record). node-tar refuses any non-link header with a linkname
 * ("TAR_ENTRY_INVALID: linkpath forbidden": an error in strict mode, a silently dropped entry
 * otherwise), so docker-made base images with two or more deletions in a layer could not be read.
 * A linkname means nothing for a non-link entry (docker itself extracts these as plain whiteout
 * files), so clearing it changes nothing else; pax and GNU long-link records are left as they are
 * (node-tar only checks the ustar field, and `toHeader` only reads linkpath for links).
 *
 * To know which blocks are headers, it walks the archive exactly as node-tar's Parser does: the
 * same header decoding (inspectHeaderBlock: base-256 numbers, pax `size` and `path` overrides,
 * old-style directories), the same pax/GNU meta-entry handling and limits, the same
 * end-of-archive rule. Bodies pass
 * through as sub-arrays of the input chunks (no copies); only a header block split across two
 * chunks is held back until complete, and only a meta entry's body (bounded by
 * MAX_META_ENTRY_SIZE) is also kept to be parsed.
 */
export class StrayLinknameFilter {
  /** Bytes of a header block split across chunks, held back until complete. */
  private partial: Buffer | undefined;
  /** Body bytes (padding included) of the current entry still to pass through. */
  private bodyRemaining = 0;
  /** The body of the current meta entry, collected while it passes through. */
  private meta: { type: string; size: number; parts: Buffer[]; got: number } | undefined;
  private ex: HeaderData | undefined;
  private gex: HeaderData | undefined;
  private sawNullBlock = false;
  /** After the end of the archive, or for data node-tar decompresses itself: pass through. */
  private passThrough = false;
  /** The first bytes, until there are enough to tell a gzip stream from a tar. */
  private sniff: Buffer | undefined = Buffer.alloc(0);

  /** The bytes to hand to the parser for this chunk, in order (possibly none, for now). */
  write(chunk: Buffer): Buffer[] {
    if (this.sniff) {
      chunk = this.sniff.length ? Buffer.concat([this.sniff, chunk]) : chunk;
      if (chunk.length < 2) {
        this.sniff = chunk;
        return [];
      }
      this.sniff = undefined;
      // node-tar gunzips input that starts with the gzip magic; there are no headers to see here.
      if (chunk[0] === 0x1f && chunk[1] === 0x8b) this.passThrough = true;
    }
    if (this.passThrough) return [chunk];
    const out: Buffer[] = [];
    let pos = 0;
    let start = 0; // start of the bytes of `chunk` not yet in `out`
    const flush = (end: number) => {
      if (end > start) out.push(chunk.subarray(start, end));
      start = end;
    };
    while (pos < chunk.length && !this.passThrough) {
      if (this.bodyRemaining > 0) {
        const n = Math.min(this.bodyRemaining, chunk.length - pos);
        if (this.meta) this.collectMeta(chunk.subarray(pos, pos + n));
        this.bodyRemaining -= n;
        pos += n;
        if (this.bodyRemaining === 0 && this.meta) this.finishMeta();
        continue;
      }
      if (this.partial) {
        const n = Math.min(512 - this.partial.length, chunk.length - pos);
        this.partial = Buffer.concat([this.partial, chunk.subarray(pos, pos + n)]);
        pos += n;
        start = pos;
        if (this.partial.length < 512) break;
        const block = this.partial;
        this.partial = undefined;
        out.push(this.header(block) ?? block);
        continue;
      }
      if (chunk.length - pos < 512) {
        flush(pos);
        this.partial = Buffer.from(chunk.subarray(pos));
        pos = start = chunk.length;
        break;
      }
      const fixed = this.header(chunk.subarray(pos, pos + 512));
      if (fixed) {
        flush(pos);
        out.push(fixed);
        start = pos + 512;
      }
      pos += 512;
    }
    flush(chunk.length);
    return out;
  }

  /** At the end of the input: whatever is still held back (a truncated header; the parser says so). */
  end(): Buffer | undefined {
    const rest = this.sniff?.length ? this.sniff : this.partial;
    this.sniff = this.partial = undefined;
    return rest;
  }

  /** Looks at one header block as node-tar will; returns a fixed copy, or undefined to keep it. */
  private header(block: Buffer): Buffer | undefined {
    const h = inspectHeaderBlock(block, this.ex, this.gex);
    if (!h) return undefined; // invalid: the parser reports it (and stays on header blocks)
    if (h.nullBlock) {
      if (this.sawNullBlock) this.passThrough = true; // end of archive: node-tar reads no further
      this.sawNullBlock = true;
      return undefined;
    }
    this.sawNullBlock = false;
    if (!h.cksumValid || !h.hasPath) return undefined; // invalid: the parser reports it
    const type = h.type;
    const isLink = type === 'Link' || type === 'SymbolicLink';
    if (isLink && !h.hasLinkpath) return undefined; // invalid: the parser reports it
    let fixed: Buffer | undefined;
    if (!isLink && type !== 'ExtendedHeader' && type !== 'GlobalExtendedHeader' && h.hasLinkpath) {
      fixed = Buffer.from(block);
      fixed.fill(0, 157, 257);
      fixed.write(`${headerChecksum(fixed).toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
    }
    this.bodyRemaining = 512 * Math.ceil(h.size / 512);
    if (META_TYPES.has(type)) {
      // An oversized one is skipped (and refused by readTar); an empty one changes nothing.
      if (h.size > 0 && h.size <= MAX_META_ENTRY_SIZE) this.meta = { type, size: h.size, parts: [], got: 0 };
    } else {
      this.ex = undefined; // pax and GNU long names apply to the next entry only
    }
    return fixed;
  }

  private collectMeta(part: Buffer): void {
    const meta = this.meta!;
    const take = Math.min(part.length, meta.size - meta.got);
    if (take > 0) {
      meta.parts.push(Buffer.from(part.subarray(0, take)));
      meta.got += take;
    }
  }

  private finishMeta(): void {
    const { type, parts } = this.meta!;
    this.meta = undefined;
    const text = Buffer.concat(parts).toString();
    switch (type) {
      case 'ExtendedHeader':
      case 'OldExtendedHeader':
        this.ex = Pax.parse(text, this.ex, false);
        break;
      case 'GlobalExtendedHeader':
        this.gex = Pax.parse(text, this.gex, true);
        break;
      case 'NextFileHasLongPath':
      case 'OldGnuLongPath':
        this.ex ??= Object.create(null) as HeaderData;
        this.ex.path = text.replace(/\0.*/, '');
        break;
      case 'NextFileHasLongLinkpath':
        this.ex ??= Object.create(null) as HeaderData;
        this.ex.linkpath = text.replace(/\0.*/, '');
        break;
    }
  }
}

function formatError(err: unknown, what: string): KilnError {
  const e = err as { message?: string; code?: string; tarCode?: string };
  const message = e?.message ?? String(err);
  if (e?.code === 'Z_DATA_ERROR' || e?.code === 'Z_BUF_ERROR' || e?.code?.startsWith?.('ERR_ZSTD')) {
    return new LayerFormatError(`invalid ${what}: the compressed data is corrupt or not in the declared format (${message})`);
  }
  if (e?.tarCode || e?.code?.startsWith?.('TAR_')) {
    return new LayerFormatError(`invalid ${what}: ${message.replace(/^TAR_[A-Z_]+: /, '')}`);
  }
  if (err instanceof LayerEntryError) return err;
  const wrapped = new KilnError(`cannot read ${what}: ${message}`);
  (wrapped as { cause?: unknown }).cause = err;
  return wrapped;
}
