// gzip on several cores, byte-identical whatever the input chunking or the core count.
//
// One zlib stream compresses on one thread-pool thread while the main thread mostly waits (a
// layer build is gzip-bound). Instead, as pigz does, the input is cut into fixed-size blocks; each
// is deflated on its own thread with the previous block's last 32 KiB as its preset dictionary (so
// the ratio stays that of one stream) and ends with a sync flush instead of a final block. The
// blocks are joined in order under one gzip header, then an empty final block and the trailer
// (CRC-32 and length of the whole input). The output depends only on the input bytes, the level
// and the zlib build: the block size is fixed and the concurrency only decides how many blocks are
// in flight.

import { promisify } from 'node:util';
import { constants as zc, crc32, deflateRaw } from 'node:zlib';
import type { ZlibOptions } from 'node:zlib';

const deflateRawAsync = promisify<Buffer, ZlibOptions, Buffer>(deflateRaw);

/** Input bytes per independently deflated block. Fixed: changing it changes every digest. */
export const GZIP_BLOCK_SIZE = 1024 * 1024;
/** Room for one block's deflated output in one piece, whatever the input. */
const OUTPUT_CHUNK = GZIP_BLOCK_SIZE + 64 * 1024;
/** deflate's window: how much of the previous block seeds the next one's dictionary. */
const WINDOW = 32 * 1024;
/** BFINAL=1, BTYPE=01 (fixed Huffman), end-of-block: the empty last block that closes the stream. */
const EMPTY_FINAL_BLOCK = Buffer.from([0x03, 0x00]);
/**
 * OS byte 255 ("unknown", as Go's compress/gzip writes): zlib would write the build's OS code
 * (3 on Linux, 19 on macOS), which would make the digest vary by machine.
 */
const OS_UNKNOWN = 0xff;

export interface ParallelGzipOptions {
  /** zlib level 0-9. */
  level: number;
  /** Blocks deflated at once (default 3: the thread pool has 4 threads and file reads need one). */
  concurrency?: number;
}

/** gzip header: no name, no mtime (0), XFL as zlib sets it for the level. */
function gzipHeader(level: number): Buffer {
  const xfl = level === 9 ? 2 : level < 2 ? 4 : 0;
  return Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, OS_UNKNOWN]);
}

/** Compresses an async stream of bytes into one gzip member, yielding the output in order. */
export async function* parallelGzip(source: AsyncIterable<Buffer>, options: ParallelGzipOptions): AsyncGenerator<Buffer> {
  const { level } = options;
  const concurrency = Math.max(1, options.concurrency ?? 3);
  const inFlight: Promise<Buffer>[] = [];
  let crc = 0;
  let length = 0;
  let previous: Buffer | undefined;

  const deflateBlock = (block: Buffer): void => {
    crc = crc32(block, crc);
    length += block.length;
    // chunkSize covers a whole block's output (incompressible input grows by a few bytes per 16
    // KiB), so zlib deflates the block in one thread-pool call instead of coming back to the main
    // thread for every 16 KiB of output.
    const options: ZlibOptions = { level, memLevel: 8, strategy: zc.Z_DEFAULT_STRATEGY, finishFlush: zc.Z_SYNC_FLUSH, chunkSize: OUTPUT_CHUNK };
    if (previous) options.dictionary = previous.subarray(Math.max(0, previous.length - WINDOW));
    const job = deflateRawAsync(block, options);
    job.catch(() => undefined); // awaited in order below; a consumer that stops early leaves none unhandled
    inFlight.push(job);
    previous = block;
  };

  yield gzipHeader(level);
  let block = Buffer.allocUnsafe(GZIP_BLOCK_SIZE);
  let filled = 0;
  for await (const chunk of source) {
    let offset = 0;
    while (offset < chunk.length) {
      const n = Math.min(chunk.length - offset, GZIP_BLOCK_SIZE - filled);
      chunk.copy(block, filled, offset, offset + n);
      filled += n;
      offset += n;
      if (filled === GZIP_BLOCK_SIZE) {
        deflateBlock(block);
        block = Buffer.allocUnsafe(GZIP_BLOCK_SIZE);
        filled = 0;
        if (inFlight.length >= concurrency) yield await inFlight.shift()!;
      }
    }
  }
  if (filled > 0) deflateBlock(block.subarray(0, filled));
  while (inFlight.length > 0) yield await inFlight.shift()!;

  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc >>> 0, 0);
  trailer.writeUInt32LE(length % 2 ** 32, 4); // ISIZE is the length modulo 2^32
  yield Buffer.concat([EMPTY_FINAL_BLOCK, trailer]);
}
