// The deterministic tar writer: what GNU tar reads from it, pax only where needed, chunking,
// and bodies of the wrong size.
import { execFileSync } from 'node:child_process';
import { Readable } from 'node:stream';
import { TarWriteError, encodeHeader, writeTar } from '../../src/archive/tar.js';
import type { TarEntry, TarHeader } from '../../src/archive/tar.js';
import { readTar } from '../../src/layer/reader.js';

async function tar(entries: TarEntry[]): Promise<{ bytes: Buffer; chunks: number[] }> {
  const chunks: Buffer[] = [];
  for await (const chunk of writeTar(entries)) chunks.push(chunk);
  return { bytes: Buffer.concat(chunks), chunks: chunks.map((c) => c.length) };
}

const header = (h: Partial<TarHeader> & Pick<TarHeader, 'path' | 'type'>): TarHeader => ({ mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 0, ...h });

async function* streamed(buf: Buffer, size = 1000): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

describe('writeTar', () => {
  const longDir = `deep/${'d'.repeat(120)}`;
  const entries = (): TarEntry[] => [
    { header: header({ path: 'app', type: 'dir', mode: 0o755, uid: 1000, gid: 1000, mtime: 1700000000 }) },
    { header: header({ path: 'app/a.txt', type: 'file', size: 5, uid: 1000, gid: 1000 }), body: Buffer.from('hello') },
    { header: header({ path: 'app/big', type: 'file', size: 100_000 }), body: streamed(Buffer.alloc(100_000, 7)) },
    { header: header({ path: longDir, type: 'dir', mode: 0o700 }) },
    { header: header({ path: 'app/link', type: 'symlink', mode: 0o777, linkTarget: 'a.txt' }) },
    { header: header({ path: 'app/hard', type: 'hardlink', linkTarget: 'app/a.txt' }) },
    { header: header({ path: 'huge-ids', type: 'file', uid: 3_000_000, gid: 4_000_000 }) },
  ];

  it('writes what GNU tar lists, owners numeric, directories with a slash, long names in pax records', async () => {
    const { bytes } = await tar(entries());
    const listing = execFileSync('tar', ['--numeric-owner', '--full-time', '-tvf', '-'], { input: bytes, encoding: 'utf8' });
    const lines = listing.trim().split('\n').map((l) => l.split(/\s+/));
    expect(lines.map((l) => [l[0], l[1], l[l.length - 1]])).toEqual([
      ['drwxr-xr-x', '1000/1000', 'app/'],
      ['-rw-r--r--', '1000/1000', 'app/a.txt'],
      ['-rw-r--r--', '0/0', 'app/big'],
      ['drwx------', '0/0', `${longDir}/`],
      ['lrwxrwxrwx', '0/0', 'a.txt'],
      ['hrw-r--r--', '0/0', 'app/a.txt'],
      ['-rw-r--r--', '3000000/4000000', 'huge-ids'],
    ]);
    expect(listing).toContain('2023-11-14 22:13:20 app/');
    expect(bytes.length % 512).toBe(0);
    expect(bytes.subarray(-1024).equals(Buffer.alloc(1024))).toBe(true);
  });

  it('reads back through the layer reader, and gives the same bytes every time', async () => {
    const { bytes } = await tar(entries());
    expect((await tar(entries())).bytes.equals(bytes)).toBe(true);
    const seen: TarHeader[] = [];
    await readTar(Readable.from([bytes]), async (h) => {
      seen.push(h);
    });
    expect(seen.map((h) => [h.path, h.type, h.uid, h.linkTarget])).toEqual([
      ['app', 'dir', 1000, undefined],
      ['app/a.txt', 'file', 1000, undefined],
      ['app/big', 'file', 0, undefined],
      [longDir, 'dir', 0, undefined],
      ['app/link', 'symlink', 0, 'a.txt'],
      ['app/hard', 'hardlink', 0, 'app/a.txt'],
      ['huge-ids', 'file', 3_000_000, undefined],
    ]);
  });

  it('adds a pax header only when a field does not fit, carrying only that field', () => {
    expect(encodeHeader(header({ path: 'short', type: 'file' })).length).toBe(512);
    const long = encodeHeader(header({ path: `x/${'n'.repeat(150)}`, type: 'file' }));
    expect(long.length).toBe(512 * 3);
    expect(long.toString('latin1', 0, 100).replace(/\0+$/, '')).toBe(`PaxHeader/${'n'.repeat(89)}`);
    const body = long.toString('utf8', 512, 1024).replace(/\0+$/, '');
    expect(body).toBe(`162 path=x/${'n'.repeat(150)}\n`);
  });

  it('gathers small pieces into chunks and passes large bodies through', async () => {
    const big = Buffer.alloc(200_000, 1);
    const { chunks } = await tar([
      { header: header({ path: 'a', type: 'file', size: 3 }), body: Buffer.from('abc') },
      { header: header({ path: 'b', type: 'file', size: big.length }), body: big },
    ]);
    expect(chunks).toEqual([1536, 200_000, 512 - (200_000 % 512) + 1024]);
  });

  it('keeps the last chunk when the end-of-archive blocks complete it (127 directories made an empty archive)', async () => {
    const dirs = Array.from({ length: 127 }, (_, i) => ({ header: header({ path: `d${String(i).padStart(3, '0')}`, type: 'dir', mode: 0o755 }) }));
    for (const recycle of [false, true]) {
      const chunks: Buffer[] = [];
      for await (const chunk of writeTar(dirs, { recycle })) chunks.push(Buffer.from(chunk));
      const bytes = Buffer.concat(chunks);
      expect(bytes.length).toBe(127 * 512 + 1024);
      expect(execFileSync('tar', ['-tf', '-'], { input: bytes, encoding: 'utf8' }).trim().split('\n')).toHaveLength(127);
    }
  });

  it('with recycle, reusing its buffers and the producer\'s, writes the same bytes', async () => {
    // A producer that reads every body into one buffer it overwrites for the next entry, as the
    // layer writer's file reads do; the consumer copies each chunk before asking for the next.
    const scratch = Buffer.alloc(70_000);
    const sizes = Array.from({ length: 400 }, (_, i) => [0, 1, 511, 512, 513, 9_000, 65_535, 70_000][i % 8]!);
    const bodyOf = (i: number, size: number) => Buffer.alloc(size, (i * 7) % 251);
    async function* produce(reuse: boolean): AsyncGenerator<TarEntry> {
      for (const [i, size] of sizes.entries()) {
        const path = i % 50 === 0 ? `long/${'p'.repeat(150)}/${i}` : `f${i}`;
        const bytes = bodyOf(i, size);
        const body = reuse ? scratch.subarray(0, size) : bytes;
        if (reuse) bytes.copy(body);
        yield { header: header({ path, type: 'file', size }), body: size > 65_535 ? streamed(body, 4096) : body };
      }
    }
    const collect = async (recycle: boolean) => {
      const chunks: Buffer[] = [];
      for await (const chunk of writeTar(produce(recycle), { recycle })) chunks.push(Buffer.from(chunk));
      return Buffer.concat(chunks);
    };
    const fresh = await collect(false);
    expect((await collect(true)).equals(fresh)).toBe(true);
  });

  it('refuses a body of another size than its header says', async () => {
    const file = (size: number, body?: TarEntry['body']): TarEntry[] => [{ header: header({ path: 'f', type: 'file', size }), body }];
    await expect(tar(file(4, Buffer.from('abc')))).rejects.toThrow(TarWriteError);
    await expect(tar(file(4))).rejects.toThrow('tar entry "f": the body has 0 bytes, expected 4');
    await expect(tar(file(4, streamed(Buffer.from('abcdef'), 2)))).rejects.toThrow('tar entry "f": the body is larger than its 4 bytes');
    await expect(tar(file(4, streamed(Buffer.from('ab'))))).rejects.toThrow('tar entry "f": the body has 2 bytes, expected 4');
  });
});
