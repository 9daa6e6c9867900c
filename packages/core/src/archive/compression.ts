// The one compression module: what compressed data is (sniffed from its magic bytes), a stream
// that decompresses each format, and the gzip compressor (parallel-gzip.ts). Layers, ADDed local
// archives and `docker save` archives all go through here.
//
// gzip is always decompressed in-process, zstd where node:zlib has it (Node.js 22.15 and later).
// bzip2 and xz (and zstd on an older Node.js) need the `bzip2`, `xz` or `zstd` command; a caller
// says whether running one is acceptable (ADD of a local archive: yes, as Docker does; layers: no).

import { spawn } from 'node:child_process';
import { open } from 'node:fs/promises';
import { Readable, pipeline } from 'node:stream';
import type { Transform } from 'node:stream';
import * as zlib from 'node:zlib';
import { KilnError } from '../errors.js';

export { GZIP_BLOCK_SIZE, parallelGzip } from './parallel-gzip.js';
export type { ParallelGzipOptions } from './parallel-gzip.js';

export type Compression = 'gzip' | 'bzip2' | 'xz' | 'zstd' | 'none';

/** Raised for compressed data this process cannot decompress as asked. */
export class UnsupportedCompressionError extends KilnError {}

const MAGIC: ReadonlyArray<readonly [Compression, readonly number[]]> = [
  ['gzip', [0x1f, 0x8b]],
  ['bzip2', [0x42, 0x5a, 0x68]], // "BZh"
  ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ['zstd', [0x28, 0xb5, 0x2f, 0xfd]],
];

/** How many leading bytes sniffCompression needs to tell every format apart. */
export const SNIFF_LENGTH = 6;

/** The compression the first bytes of some data announce ('none' when no magic matches). */
export function sniffCompression(head: Uint8Array): Compression {
  for (const [kind, magic] of MAGIC) {
    if (head.length >= magic.length && magic.every((b, i) => head[i] === b)) return kind;
  }
  return 'none';
}

/** sniffCompression over the first bytes of a file. */
export async function sniffFileCompression(file: string): Promise<Compression> {
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(SNIFF_LENGTH);
    const { bytesRead } = await fh.read(head, 0, SNIFF_LENGTH, 0);
    return sniffCompression(head.subarray(0, bytesRead));
  } finally {
    await fh.close();
  }
}

type ZstdZlib = { createZstdDecompress?: (options?: zlib.ZlibOptions) => Transform };

/** Whether this Node.js can decompress zstd itself. */
export function hasZstd(): boolean {
  return typeof (zlib as unknown as ZstdZlib).createZstdDecompress === 'function';
}

/**
 * A Transform that decompresses `compression` in-process (gzip; zstd where node:zlib has it), or
 * undefined when this process cannot (bzip2, xz, zstd before Node.js 22.15) or there is nothing to do ('none').
 */
export function decompressor(compression: Compression): Transform | undefined {
  switch (compression) {
    case 'gzip':
      return zlib.createGunzip({ chunkSize: 128 * 1024 });
    case 'zstd':
      return hasZstd() ? (zlib as unknown as Required<ZstdZlib>).createZstdDecompress() : undefined;
    default:
      return undefined;
  }
}

export interface DecompressOptions {
  /**
   * Decompress what node:zlib cannot (bzip2, xz; zstd before Node.js 22.15) with the `bzip2`,
   * `xz` or `zstd` command. Default false: such data is refused with an UnsupportedCompressionError.
   */
  commands?: boolean;
  /** What the data is, for messages: a file name, or a plural noun ('layers'). Default 'data'. */
  what?: string;
}

/** The Debian package of each decompression command, for the message when it is missing. */
const COMMANDS: Partial<Record<Compression, { command: string; debianPackage: string }>> = {
  bzip2: { command: 'bzip2', debianPackage: 'bzip2' },
  xz: { command: 'xz', debianPackage: 'xz-utils' },
  zstd: { command: 'zstd', debianPackage: 'zstd' },
};

/**
 * The decompressed bytes of `source`. Errors (corrupt data, a failed command, errors of `source`)
 * surface on the returned stream; destroying it stops the work and destroys `source`.
 */
export function decompress(source: Readable, compression: Compression, options: DecompressOptions = {}): Readable {
  if (compression === 'none') return source;
  const what = options.what ?? 'data';
  const transform = decompressor(compression);
  if (transform) return pipeline(source, transform, () => undefined);
  const command = COMMANDS[compression];
  if (!command) throw new UnsupportedCompressionError(`unsupported compression ${JSON.stringify(compression)}`);
  if (options.commands) return decompressWithCommand(source, command.command, command.debianPackage, what);
  const why = compression === 'zstd' ? 'node:zlib has no zstd before 22.15' : `node:zlib has no ${compression}`;
  throw new UnsupportedCompressionError(
    `${compression}-compressed ${what} are not supported on Node.js ${process.version} (${why}); ` +
      `use gzip${compression === 'zstd' ? ' or run Kiln on a newer Node.js' : ''}`,
  );
}

/** stdout of `<command> -dc` with `source` on its stdin; a missing command or a non-zero exit is an error on the stream. */
function decompressWithCommand(source: Readable, command: string, debianPackage: string, what: string): Readable {
  const child = spawn(command, ['-dc'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s: string) => {
    if (stderr.length < 4096) stderr += s;
  });
  const exited = new Promise<number | null>((res, rej) => {
    child.once('error', rej);
    child.once('close', (code) => res(code));
  });
  exited.catch(() => undefined);
  // A command that stops reading (corrupt data) says why through its exit status, not through EPIPE.
  child.stdin.on('error', () => undefined);
  let sourceError: unknown;
  source.on('error', (err) => {
    sourceError ??= err;
    child.stdin.destroy();
  });
  source.pipe(child.stdin);

  const stop = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill();
    source.unpipe(child.stdin);
    source.destroy();
  };
  async function* run(): AsyncGenerator<Buffer> {
    try {
      for await (const chunk of child.stdout) yield chunk as Buffer;
      let code: number | null;
      try {
        code = await exited;
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        throw new KilnError(
          e.code === 'ENOENT'
            ? `cannot decompress ${what}: the '${command}' command is not installed (on Debian: apt-get install ${debianPackage})`
            : `cannot decompress ${what} with ${command}: ${e.message}`,
        );
      }
      if (sourceError !== undefined) throw sourceError;
      if (code !== 0) throw new KilnError(`cannot decompress ${what}: ${command} exited with ${String(code)}: ${stderr.trim()}`);
    } finally {
      stop();
    }
  }
  const out = Readable.from(run(), { objectMode: false });
  out.once('close', stop); // also when destroyed before the first read
  return out;
}
