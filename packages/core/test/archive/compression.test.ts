// The compression module: magic-byte sniffing, decompression in-process or through the bzip2, xz
// and zstd commands (only when the caller allows them), and its errors.
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import {
  UnsupportedCompressionError,
  decompress,
  decompressor,
  hasZstd,
  sniffCompression,
  sniffFileCompression,
} from '../../src/archive/compression.js';
import type { Compression } from '../../src/archive/compression.js';
import { pseudoRandom } from '../layer/helpers.js';

const data = Buffer.concat([Buffer.from('some text to compress\n'.repeat(2000)), pseudoRandom(200_000, 7)]);

/** `data` compressed by the real tool. */
function compressed(kind: Compression): Buffer {
  switch (kind) {
    case 'gzip':
      return gzipSync(data);
    case 'bzip2':
      return execFileSync('bzip2', ['-c'], { input: data, maxBuffer: 64 << 20 });
    case 'xz':
      return execFileSync('xz', ['-c'], { input: data, maxBuffer: 64 << 20 });
    case 'zstd':
      return execFileSync('zstd', ['-c', '-q'], { input: data, maxBuffer: 64 << 20 });
    case 'none':
      return data;
  }
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A source in small chunks, so that commands see several writes. */
const source = (buf: Buffer): Readable =>
  Readable.from((function* () {
    for (let i = 0; i < buf.length; i += 10_000) yield buf.subarray(i, i + 10_000);
  })());

const KINDS: Compression[] = ['gzip', 'bzip2', 'xz', 'zstd', 'none'];

describe('sniffCompression', () => {
  it('knows each format by its magic bytes', () => {
    for (const kind of KINDS) expect(sniffCompression(compressed(kind).subarray(0, 6))).toBe(kind);
    expect(sniffCompression(Buffer.from([0x1f, 0x8b, 8, 0]))).toBe('gzip');
    expect(sniffCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))).toBe('zstd');
    expect(sniffCompression(Buffer.from('BZh9'))).toBe('bzip2');
    expect(sniffCompression(Buffer.from('ustar'))).toBe('none');
    expect(sniffCompression(Buffer.from([0xfd, 0x37, 0x7a]))).toBe('none'); // too short to be xz
    expect(sniffCompression(Buffer.alloc(0))).toBe('none');
  });

  it('reads the first bytes of a file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kiln-compression-'));
    try {
      for (const kind of KINDS) {
        await writeFile(join(dir, kind), compressed(kind));
        expect(await sniffFileCompression(join(dir, kind))).toBe(kind);
      }
      await writeFile(join(dir, 'empty'), '');
      expect(await sniffFileCompression(join(dir, 'empty'))).toBe('none');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('decompress', () => {
  it.each(KINDS)('gives back the bytes of %s data (commands allowed)', async (kind) => {
    const out = await collect(decompress(source(compressed(kind)), kind, { commands: true, what: 'test data' }));
    expect(out.equals(data)).toBe(true);
  });

  it('decompresses gzip (and zstd where node:zlib has it) in-process, and refuses the rest without commands', async () => {
    expect(await collect(decompress(source(compressed('gzip')), 'gzip'))).toEqual(data);
    expect(decompressor('gzip')).toBeDefined();
    expect(decompressor('none')).toBeUndefined();
    expect(decompressor('bzip2')).toBeUndefined();
    expect(() => decompress(source(compressed('xz')), 'xz', { what: 'layers' })).toThrow(UnsupportedCompressionError);
    expect(() => decompress(source(compressed('bzip2')), 'bzip2')).toThrow(/bzip2-compressed data are not supported/);
    if (hasZstd()) {
      expect(await collect(decompress(source(compressed('zstd')), 'zstd'))).toEqual(data);
    } else {
      expect(decompressor('zstd')).toBeUndefined();
      expect(() => decompress(source(compressed('zstd')), 'zstd', { what: 'layers' })).toThrow(
        /zstd-compressed layers are not supported on Node\.js .* run Kiln on a newer Node\.js/,
      );
    }
    expect(() => decompress(source(data), 'lzma' as Compression)).toThrow(/unsupported compression "lzma"/);
  });

  it('reports corrupt data as an error on the stream, naming what it was', async () => {
    const bad = Buffer.concat([Buffer.from('BZh9'), Buffer.from('not really bzip2 data')]);
    await expect(collect(decompress(source(bad), 'bzip2', { commands: true, what: 'a.tar.bz2' }))).rejects.toThrow(
      /cannot decompress a\.tar\.bz2: bzip2 exited with/,
    );
    await expect(collect(decompress(source(Buffer.from([0x1f, 0x8b, 1, 2, 3])), 'gzip'))).rejects.toThrow();
  });

  it("passes the source's errors on, through zlib and through a command", async () => {
    const failing = (): Readable =>
      Readable.from((async function* () {
        yield compressed('xz').subarray(0, 100);
        throw new Error('disk on fire');
      })());
    await expect(collect(decompress(failing(), 'xz', { commands: true }))).rejects.toThrow('disk on fire');
    const failingGzip = Readable.from((async function* () {
      yield compressed('gzip').subarray(0, 100);
      throw new Error('disk on fire');
    })());
    await expect(collect(decompress(failingGzip, 'gzip'))).rejects.toThrow('disk on fire');
  });

  it('stops the command and the source when the output is dropped unread', async () => {
    const src = source(compressed('xz'));
    const out = decompress(src, 'xz', { commands: true });
    out.destroy();
    await new Promise((resolve) => setImmediate(resolve));
    expect(src.destroyed).toBe(true);
  });
});
