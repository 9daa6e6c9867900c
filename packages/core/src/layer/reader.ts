// Streaming layer reader over node-tar's Parser: one entry at a time, bodies as Readables, with
// backpressure all the way to the source (nothing is buffered beyond a chunk or two).

import { Readable, pipeline } from 'node:stream';
import * as zlib from 'node:zlib';
import type { Transform } from 'node:stream';
import { Parser } from 'tar';
import type { ReadEntry } from 'tar';
import { KilnError } from '../errors.js';
import type { LayerCompression } from '../oci/media-types.js';
import { LayerEntryError } from './entry.js';
import type { EntryType } from './entry.js';

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
  /** Seconds since the epoch (may be fractional when a pax header says so). */
  mtime: number;
  devMajor?: number;
  devMinor?: number;
}

/** Called once per entry, in archive order; the next entry waits until the promise settles.
 * An unread body is drained afterwards. */
export type TarEntryHandler = (header: TarHeader, body: Readable) => Promise<void>;

/** Thrown (as a KilnError) for data that is not a valid tar / compressed stream. */
export class LayerFormatError extends KilnError {}

/**
 * Stream over the entries of a layer blob. gzip and uncompressed tar are supported everywhere;
 * zstd only where node:zlib has it (Node.js 22.15 and later), otherwise a clear KilnError.
 */
export async function readLayer(
  stream: Readable,
  compression: LayerCompression,
  onEntry: TarEntryHandler,
): Promise<void> {
  let plain: Readable;
  try {
    plain = decompressStream(stream, compression);
  } catch (err) {
    stream.destroy();
    throw err;
  }
  await readTar(plain, onEntry, { what: 'layer' });
}

type ZstdZlib = { createZstdDecompress?: () => Transform };

/** Whether this Node.js can decompress zstd itself. */
export function hasZstd(): boolean {
  return typeof (zlib as unknown as ZstdZlib).createZstdDecompress === 'function';
}

/** The uncompressed bytes of a layer stream (errors surface on the returned stream). */
export function decompressStream(stream: Readable, compression: LayerCompression): Readable {
  switch (compression) {
    case 'none':
      return stream;
    case 'gzip':
      return pipeline(stream, zlib.createGunzip({ chunkSize: 128 * 1024 }), () => undefined);
    case 'zstd': {
      const create = (zlib as unknown as ZstdZlib).createZstdDecompress;
      if (typeof create !== 'function') {
        throw new KilnError(
          `zstd-compressed layers are not supported on Node.js ${process.version} (node:zlib has no zstd before 22.15); ` +
            'use a base image with gzip layers or run Kiln on a newer Node.js',
        );
      }
      return pipeline(stream, create(), () => undefined);
    }
    default:
      throw new KilnError(`unsupported layer compression ${JSON.stringify(compression)}`);
  }
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

function toHeader(e: ReadEntry): TarHeader {
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
  const parser = new Parser({ strict: true, zstd: false, brotli: false });
  const queue: ReadEntry[] = [];
  let failed = false;
  let parserDone = false;
  let consuming = false;
  let current: Readable | undefined;

  return new Promise<void>((resolve, reject) => {
    // Errors from the data are reported as KilnErrors; errors thrown by onEntry pass through as-is.
    const fail = (err: unknown, fromHandler = false) => {
      if (failed) return;
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
      if (!parser.write(chunk)) input.pause();
    });
    input.on('end', () => {
      if (!failed) parser.end();
    });
  });
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
