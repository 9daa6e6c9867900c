// parallelGzip: one valid gzip member that zlib and GNU gzip read back, the same bytes whatever
// the input chunking and the concurrency, and a ratio as good as one zlib stream.
import { execFileSync } from 'node:child_process';
import { gunzipSync, gzipSync } from 'node:zlib';
import { GZIP_BLOCK_SIZE, parallelGzip } from '../../src/archive/parallel-gzip.js';
import { pseudoRandom } from '../layer/helpers.js';

async function* chunked(data: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let offset = 0; offset < data.length; offset += size) yield data.subarray(offset, offset + size);
}

async function gzip(data: Buffer, chunkSize: number, level = 1, concurrency?: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of parallelGzip(chunked(data, chunkSize), { level, concurrency })) parts.push(part);
  return Buffer.concat(parts);
}

// Text-like input (compressible) followed by incompressible bytes, over several blocks.
const text = Buffer.from(Array.from({ length: 60_000 }, (_, i) => `line ${i}: ${'abc'.repeat(i % 17)}\n`).join(''));
const sample = Buffer.concat([text, pseudoRandom(GZIP_BLOCK_SIZE + 12_345, 3)]);

describe('parallelGzip', () => {
  it('writes one gzip member that zlib and GNU gzip decompress to the input', async () => {
    expect(sample.length).toBeGreaterThan(2 * GZIP_BLOCK_SIZE);
    const out = await gzip(sample, 64 * 1024);
    expect(gunzipSync(out).equals(sample)).toBe(true);
    const viaGnu = execFileSync('gzip', ['-dc'], { input: out, maxBuffer: 64 << 20 });
    expect(viaGnu.equals(sample)).toBe(true);
    execFileSync('gzip', ['-t'], { input: out }); // CRC and length check
    // Header: deflate, no name, no mtime, XFL 4 (fastest) at level 1, OS 255.
    expect([...out.subarray(0, 10)]).toEqual([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 0xff]);
    expect(out.readUInt32LE(out.length - 4)).toBe(sample.length);
  });

  it('gives the same bytes whatever the input chunking and the concurrency', async () => {
    const reference = await gzip(sample, 64 * 1024);
    for (const [chunkSize, concurrency] of [
      [1, 3],
      [511, 1],
      [GZIP_BLOCK_SIZE, 2],
      [3 * GZIP_BLOCK_SIZE, 8],
    ] as const) {
      const data = chunkSize === 1 ? sample.subarray(0, 200_000) : sample;
      const expected = chunkSize === 1 ? await gzip(data, 4096) : reference;
      expect((await gzip(data, chunkSize, 1, concurrency)).equals(expected)).toBe(true);
    }
  });

  it('compresses as well as one zlib stream (within 1%)', async () => {
    for (const level of [1, 6, 9]) {
      const ours = await gzip(sample, 64 * 1024, level);
      const zlibs = gzipSync(sample, { level });
      expect(ours.length).toBeLessThan(zlibs.length * 1.01);
      expect([ours[8]]).toEqual([level === 9 ? 2 : level === 1 ? 4 : 0]);
    }
  });

  it('handles empty input, an exact multiple of the block size and level 0', async () => {
    const empty = await gzip(Buffer.alloc(0), 1024);
    expect(gunzipSync(empty).length).toBe(0);
    execFileSync('gzip', ['-t'], { input: empty });
    const exact = pseudoRandom(2 * GZIP_BLOCK_SIZE, 9);
    expect(gunzipSync(await gzip(exact, 100_000)).equals(exact)).toBe(true);
    const stored = await gzip(text, 100_000, 0);
    expect(gunzipSync(stored).equals(text)).toBe(true);
    expect(stored.length).toBeGreaterThan(text.length);
  });
});
