// Tar headers that carry a linkname although they are not links. docker 20.10's overlay2 differ
// writes whiteouts (.wh.*) as regular files that keep the linkname of an earlier entry (the
// overlayfs whiteout devices are hardlinked to each other; the hardlink's name survives the
// conversion to a regular file). node-tar rejects such headers ("linkpath forbidden"), which made
// Kiln lose the whiteouts. Here the headers are built byte by byte, as docker writes them.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { Header } from 'tar';
import { inspectHeaderBlock } from '../../src/layer/reader.js';
import { buildFsIndex, extractLayer, readFileFromLayers, readLayer } from '../../src/layer/index.js';
import type { LayerSource, TarHeader } from '../../src/layer/index.js';
import { removeDir, tempDir } from './helpers.js';

interface RawHeader {
  name: string;
  /** The typeflag character ('0' file, '1' hardlink, '2' symlink, '5' dir, 'x' pax, 'K' GNU long link). */
  type: string;
  size?: number;
  linkname?: string;
  mode?: number;
}

/** One 512-byte ustar header block, with a correct checksum. */
function header(h: RawHeader): Buffer {
  const b = Buffer.alloc(512);
  const octal = (value: number, off: number, len: number) => b.write(value.toString(8).padStart(len - 1, '0') + '\0', off, len, 'latin1');
  b.write(h.name, 0, 100, 'utf8');
  octal(h.mode ?? (h.type === '5' ? 0o755 : 0o644), 100, 8);
  octal(0, 108, 8); // uid
  octal(0, 116, 8); // gid
  octal(h.size ?? 0, 124, 12);
  octal(1_600_000_000, 136, 12);
  b.write(h.type, 156, 1, 'latin1');
  if (h.linkname) b.write(h.linkname, 157, 100, 'utf8'); // at most 100 bytes, no terminator when full
  b.write('ustar\u000000', 257, 8, 'latin1');
  b.write('root', 265, 32, 'latin1');
  b.write('root', 297, 32, 'latin1');
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of b) sum += byte;
  b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1');
  return b;
}

function padded(data: Buffer): Buffer {
  const out = Buffer.alloc(Math.ceil(data.length / 512) * 512);
  data.copy(out);
  return out;
}

/** A tar of header blocks and bodies (bodies padded to whole blocks), with the end-of-archive marker. */
function tar(...parts: (RawHeader & { data?: Buffer | string })[]): Buffer {
  const blocks: Buffer[] = [];
  for (const p of parts) {
    const data = p.data === undefined ? undefined : Buffer.from(p.data);
    blocks.push(header({ ...p, size: data?.length ?? p.size ?? 0 }));
    if (data) blocks.push(padded(data));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return `${len}${body}`;
}

/** Readable that hands out `data` in chunks of the given sizes (cycled), to cut headers anywhere. */
function chunked(data: Buffer, sizes: number[]): Readable {
  const chunks: Buffer[] = [];
  for (let off = 0, i = 0; off < data.length; i++) {
    const n = sizes[i % sizes.length]!;
    chunks.push(data.subarray(off, off + n));
    off += n;
  }
  return Readable.from(chunks, { objectMode: false });
}

const LONG = `${'very-long-directory-name/'.repeat(5)}.wh.previous-whiteout`; // > 100 bytes
// A file whose body holds a header block with a stray linkname: it must reach the reader untouched.
const TAR_IN_BODY = Buffer.concat([header({ name: 'inner', type: '0', linkname: 'inner-stale' }), Buffer.from('tail')]);

// Layer 0: an ordinary base layer.
const lower = tar(
  { name: 'etc/', type: '5' },
  { name: 'etc/group', type: '0', data: 'root:x:0:\n' },
  { name: 'etc/passwd', type: '0', data: 'root:x:0:0::/root:/bin/sh\n' },
  { name: 'etc/shadow', type: '0', data: 'root:*::0:::::\n' },
  { name: 'd/', type: '5' },
  { name: 'd/x', type: '0', data: 'x' },
  { name: 'keep', type: '0', data: 'keep' },
  { name: 'opt/', type: '5' },
  { name: 'opt/tool', type: '0', data: 'tool' },
);

// Layer 1, as docker 20.10 writes it: every whiteout carries a stale linkname.
const upper = tar(
  { name: 'etc/', type: '5', linkname: 'etc/.wh.stale-dir' },
  { name: 'etc/.wh.group', type: '0', mode: 0o600, linkname: 'etc/.wh.shadow' },
  { name: 'etc/.wh.shadow', type: '0', mode: 0o600, linkname: 'd/.wh.whatever' },
  { name: 'd/', type: '5' },
  { name: 'd/.wh..wh..opq', type: '0', linkname: 'etc/.wh.group' },
  { name: 'd/y', type: '0', data: 'y!', linkname: 'stale/target' },
  // A long stale linkname: a pax record carries it whole, the ustar field its first 100 bytes.
  { name: 'PaxHeaders/.wh.keep', type: 'x', data: paxRecord('linkpath', LONG) },
  { name: '.wh.keep', type: '0', mode: 0o600, linkname: LONG.slice(0, 100) },
  // The same with a GNU long-link entry.
  { name: '././@LongLink', type: 'K', data: `${LONG}\0` },
  { name: 'opt/.wh.tool', type: '0', mode: 0o600, linkname: LONG.slice(0, 100) },
  { name: 'blob', type: '0', data: TAR_IN_BODY, linkname: 'another/stale' },
  // Real links keep their targets.
  { name: 'hl', type: '1', linkname: 'etc/passwd' },
  { name: 'sl', type: '2', linkname: '../keep/as-is' },
);

const layers: LayerSource[] = [
  { open: () => Readable.from([lower]), compression: 'none' },
  { open: () => chunked(upper, [7, 511, 1, 1024, 513, 3]), compression: 'none' },
];

async function headersOf(stream: Readable, compression: 'none' | 'gzip'): Promise<(TarHeader & { body: string })[]> {
  const seen: (TarHeader & { body: string })[] = [];
  await readLayer(stream, compression, async (h, body) => {
    const chunks: Buffer[] = [];
    for await (const c of body) chunks.push(c as Buffer);
    seen.push({ ...h, body: Buffer.concat(chunks).toString('latin1') });
  });
  return seen;
}

describe('non-link tar entries with a stray linkname (docker 20.10 whiteouts)', () => {
  it('readLayer keeps them, as what their type says, in every chunking and compression', async () => {
    const expected = [
      ['etc', 'dir', undefined, ''],
      ['etc/.wh.group', 'file', undefined, ''],
      ['etc/.wh.shadow', 'file', undefined, ''],
      ['d', 'dir', undefined, ''],
      ['d/.wh..wh..opq', 'file', undefined, ''],
      ['d/y', 'file', undefined, 'y!'],
      ['.wh.keep', 'file', undefined, ''],
      ['opt/.wh.tool', 'file', undefined, ''],
      ['blob', 'file', undefined, TAR_IN_BODY.toString('latin1')],
      ['hl', 'hardlink', 'etc/passwd', ''],
      ['sl', 'symlink', '../keep/as-is', ''],
    ];
    const summary = (hs: (TarHeader & { body: string })[]) => hs.map((h) => [h.path, h.type, h.linkTarget, h.body]);
    expect(summary(await headersOf(Readable.from([upper]), 'none'))).toEqual(expected);
    expect(summary(await headersOf(chunked(upper, [1]), 'none'))).toEqual(expected);
    expect(summary(await headersOf(chunked(upper, [100, 700, 512, 2]), 'none'))).toEqual(expected);
    expect(summary(await headersOf(Readable.from([gzipSync(upper)]), 'gzip'))).toEqual(expected);
    const [, wh] = await headersOf(Readable.from([upper]), 'none');
    expect(wh).toMatchObject({ mode: 0o600, size: 0, uid: 0, gid: 0, mtime: 1_600_000_000 });
  });

  it('buildFsIndex honours the whiteouts and opaque directories', async () => {
    const index = await buildFsIndex(layers);
    expect([...index.keys()].sort()).toEqual(['blob', 'd', 'd/y', 'etc', 'etc/passwd', 'hl', 'opt', 'sl']);
    expect(index.get('d/y')).toMatchObject({ type: 'file', size: 2, layer: 1 });
    expect(index.get('d/y')!.linkTarget).toBeUndefined();
  });

  it('readFileFromLayers does not find deleted files', async () => {
    expect(await readFileFromLayers(layers, 'etc/group')).toBeUndefined();
    expect(await readFileFromLayers(layers, 'etc/shadow')).toBeUndefined();
    expect(await readFileFromLayers(layers, 'd/x')).toBeUndefined();
    expect(await readFileFromLayers(layers, 'keep')).toBeUndefined();
    expect(await readFileFromLayers(layers, 'opt/tool')).toBeUndefined();
    expect((await readFileFromLayers(layers, 'd/y'))?.toString()).toBe('y!');
    expect((await readFileFromLayers(layers, 'etc/passwd'))?.toString()).toContain('root:x:0:0');
    expect(await readFileFromLayers(layers, 'blob')).toEqual(TAR_IN_BODY);
  });

  it('extractLayer applies the whiteouts', async () => {
    const root = await tempDir();
    try {
      for (const layer of layers) await extractLayer(layer.open(), layer.compression, root, { sameOwner: false });
      expect(readdirSync(join(root, 'etc')).sort()).toEqual(['passwd']);
      expect(readdirSync(join(root, 'd'))).toEqual(['y']);
      expect(readdirSync(join(root, 'opt'))).toEqual([]);
      expect(existsSync(join(root, 'keep'))).toBe(false);
      expect(readFileSync(join(root, 'd/y'), 'utf8')).toBe('y!');
      expect(readFileSync(join(root, 'blob'))).toEqual(TAR_IN_BODY);
      expect(readFileSync(join(root, 'hl'), 'utf8')).toContain('root:x:0:0');
    } finally {
      await removeDir(root);
    }
  });

  it('knows headers from bodies as node-tar does (pax sizes, old-style directories), and masks no corruption', async () => {
    const body = Buffer.concat([header({ name: 'not-a-header', type: '0', linkname: 'x' }), Buffer.alloc(88, 'b')]);
    const archive = Buffer.concat([
      header({ name: 'PaxHeaders/g', type: 'g', size: paxRecord('comment', 'hi').length }),
      padded(Buffer.from(paxRecord('comment', 'hi'))),
      // The pax size wins over the ustar field: 600 bytes of body, not 0.
      header({ name: 'PaxHeaders/big', type: 'x', size: paxRecord('size', '600').length }),
      padded(Buffer.from(paxRecord('size', '600'))),
      header({ name: 'big', type: '0', size: 0, linkname: 'stale' }),
      padded(body),
      // A '0' entry whose name ends in '/' is a directory without a body, whatever its size says.
      header({ name: 'olddir/', type: '0', size: 512, linkname: 'stale' }),
      header({ name: 'olddir/.wh.gone', type: '0', linkname: 'stale' }),
      Buffer.alloc(1024),
    ]);
    const seen = await headersOf(chunked(archive, [300, 1000]), 'none');
    expect(seen.map((h) => [h.path, h.type, h.size])).toEqual([
      ['big', 'file', 600],
      ['olddir', 'dir', 0],
      ['olddir/.wh.gone', 'file', 0],
    ]);
    expect(Buffer.from(seen[0]!.body, 'latin1')).toEqual(body);

    const corrupt = tar({ name: '.wh.x', type: '0', linkname: 'stale' });
    corrupt[0] = corrupt[0]! ^ 1; // checksum no longer matches
    await expect(headersOf(Readable.from([corrupt]), 'none')).rejects.toThrow(/checksum/);
  });

  it('decodes header blocks exactly as node-tar does, odd bytes included', () => {
    let x = 12345;
    const rnd = (n: number) => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return (x >>> 0) % n;
    };
    const pick = <T>(items: T[]): T => items[rnd(items.length)]!;
    const field = (b: Buffer, off: number, len: number, v: string | Buffer) => (typeof v === 'string' ? Buffer.from(v, 'latin1') : v).copy(b, off, 0, len);
    const names = ['a', 'dir/', 'a/b/c', '', '\0\nx', 'x\0y', 'dir/\0\n', 'caf\xc3\xa9/', '\xc3/', 'n\u2028'];
    const strings = ['', 'target', '\0', '\0\nabc', '\0\rz', 'x'.repeat(100), '\0\xe2\x80\xa8q', '\0\xe2'];
    const numbers = ['0000644\0', '00000001000\0', '12\0', ' 17 \0', '', '\0\n12', '-5\0', 'zz', '\t7\0', '00000000000 ', '+7'];
    for (let i = 0; i < 4000; i++) {
      const b = Buffer.alloc(512);
      field(b, 0, 100, pick(names));
      field(b, 100, 8, pick(numbers));
      if (rnd(8) === 0) field(b, 124, 12, Buffer.from([0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34]));
      else if (rnd(8) === 0) field(b, 124, 12, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xf0]));
      else field(b, 124, 12, pick(numbers));
      b[156] = pick([0x30, 0, 0x31, 0x32, 0x33, 0x35, 0x36, 0x37, 0x44, 0x78, 0x67, 0x4c, 0x4b, 0x53, 0x56, 0x80, 0x39]);
      field(b, 157, 100, pick(strings));
      if (rnd(4) !== 0) field(b, 257, 8, 'ustar\u000000');
      field(b, 345, 155, pick(strings));
      if (rnd(6) === 0) b[475] = 0x61;
      const checksum = rnd(10);
      if (checksum < 7) {
        b.fill(0x20, 148, 156);
        let sum = 0;
        for (const byte of b) sum += byte;
        field(b, 148, 8, sum.toString(8).padStart(6, '0') + (checksum === 0 ? ' \0' : '\0 '));
      } else if (checksum === 7) {
        field(b, 148, 8, '\0\n123 ');
      }
      if (rnd(20) === 0) b.fill(0, 0, 512); // a null block
      const h = new Header(b, 0);
      const expected = {
        nullBlock: h.nullBlock,
        cksumValid: h.cksumValid,
        hasPath: !!h.path,
        type: h.type,
        hasLinkpath: !!h.linkpath,
        size: h.size ?? 0,
      };
      expect({ block: b.toString('latin1'), info: inspectHeaderBlock(b) }).toEqual({ block: b.toString('latin1'), info: expected });
    }
  });
});
