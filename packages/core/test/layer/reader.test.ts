// readLayer (headers, bodies, backpressure, errors) and the filesystem view over stacked layers.
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import {
  buildFsIndex,
  hasZstd,
  readFileFromLayers,
  readLayer,
  resolveInIndex,
  writeLayer,
} from '../../src/layer/index.js';
import type { LayerEntry, LayerSource, TarHeader } from '../../src/layer/index.js';
import { KilnError } from '../../src/errors.js';
import { TempStore, pseudoRandom, rawTar, removeDir } from './helpers.js';

let store: Awaited<ReturnType<typeof TempStore.create>>;
beforeAll(async () => {
  store = await TempStore.create();
});
afterAll(async () => {
  await removeDir(store.root);
});

const dir = (path: string): LayerEntry => ({ path, type: 'dir', mode: 0o755, uid: 0, gid: 0 });
const file = (path: string, text: string): LayerEntry => ({ path, type: 'file', mode: 0o644, uid: 0, gid: 0, content: { data: Buffer.from(text) } });
const marker = (path: string): LayerEntry => ({ path, type: 'file', mode: 0o644, uid: 0, gid: 0 });
const link = (path: string, linkTarget: string): LayerEntry => ({ path, type: 'symlink', mode: 0o777, uid: 0, gid: 0, linkTarget });

async function source(entries: LayerEntry[]): Promise<LayerSource> {
  const layer = await writeLayer(entries, store, { epoch: 0 });
  return { open: () => store.openBlob(layer.digest), compression: 'gzip' };
}

describe('readLayer', () => {
  it('normalizes paths (./, leading /, trailing /) and reports types and bodies', async () => {
    const tar = rawTar([
      { path: './', type: 'Directory' },
      { path: './etc/', type: 'Directory', mode: 0o40755 },
      { path: '/etc/hosts', data: 'localhost' },
      { path: 'etc//./motd', data: 'hi' },
      { path: 'hl', type: 'Link', linkpath: './etc/hosts' },
      { path: 'sl', type: 'SymbolicLink', linkpath: '../keep/as-is/' },
    ]);
    const seen: (TarHeader & { body: string })[] = [];
    await readLayer(Readable.from(gzipSync(tar)), 'gzip', async (h, body) => {
      let text = '';
      for await (const c of body) text += String(c);
      seen.push({ ...h, body: text });
    });
    expect(seen.map((h) => [h.path, h.type, h.body])).toEqual([
      ['', 'dir', ''],
      ['etc', 'dir', ''],
      ['etc/hosts', 'file', 'localhost'],
      ['etc/motd', 'file', 'hi'],
      ['hl', 'hardlink', ''],
      ['sl', 'symlink', ''],
    ]);
    expect(seen[1]!.mode).toBe(0o755);
    expect(seen[4]!.linkTarget).toBe('etc/hosts');
    expect(seen[5]!.linkTarget).toBe('../keep/as-is/');
    expect(seen[2]!.mtime).toBe(1_000_000_000);
  });

  it('waits for each handler, and a slow reader slows the source (backpressure)', async () => {
    const big = pseudoRandom(8 * 1024 * 1024, 5);
    const tar = rawTar([{ path: 'big', data: big }, { path: 'after', data: 'x' }]);
    let produced = 0;
    const src = Readable.from(
      (function* () {
        for (let off = 0; off < tar.length; off += 64 * 1024) {
          produced = off;
          yield tar.subarray(off, off + 64 * 1024);
        }
      })(),
      { objectMode: false },
    );
    const order: string[] = [];
    let maxAhead = 0;
    let read = 0;
    await readLayer(src, 'none', async (h, body) => {
      order.push(`start ${h.path}`);
      for await (const c of body) {
        read += (c as Buffer).length;
        maxAhead = Math.max(maxAhead, produced - read);
        await sleep(1);
      }
      await sleep(5);
      order.push(`end ${h.path}`);
    });
    expect(order).toEqual(['start big', 'end big', 'start after', 'end after']);
    expect(maxAhead).toBeLessThan(2 * 1024 * 1024);
  });

  it('drains bodies the handler did not read, and passes handler errors through', async () => {
    const tar = rawTar([{ path: 'a', data: 'aaa' }, { path: 'b', data: 'bbb' }]);
    const paths: string[] = [];
    await readLayer(Readable.from(tar), 'none', async (h) => {
      paths.push(h.path);
    });
    expect(paths).toEqual(['a', 'b']);
    class Mine extends Error {}
    await expect(
      readLayer(Readable.from(tar), 'none', async () => {
        throw new Mine('stop');
      }),
    ).rejects.toBeInstanceOf(Mine);
  });

  it('says clearly when zstd is not available, and when data is not what it claims', async () => {
    if (!hasZstd()) {
      await expect(readLayer(Readable.from(Buffer.alloc(10)), 'zstd', async () => undefined)).rejects.toThrow(
        /zstd-compressed layers are not supported on Node\.js/,
      );
    }
    await expect(readLayer(Readable.from(rawTar([{ path: 'a' }])), 'gzip', async () => undefined)).rejects.toThrow(KilnError);
    await expect(readLayer(Readable.from(Buffer.from('hello')), 'none', async () => undefined)).rejects.toThrow(/invalid layer/);
  });
});

describe('buildFsIndex / readFileFromLayers', () => {
  let layers: LayerSource[];
  beforeAll(async () => {
    layers = [
      await source([
        dir('etc'),
        file('etc/passwd', 'root:x:0:0::/root:/bin/sh\n'),
        file('etc/group', 'root:x:0:\n'),
        dir('usr'),
        dir('usr/bin'),
        file('usr/bin/tool', 'tool v1'),
        link('bin', 'usr/bin'),
        dir('opt'),
        dir('opt/x'),
        file('opt/x/y', 'y'),
        dir('var'),
        file('var/old', 'old'),
        { path: 'etc/passwd-hard', type: 'hardlink', mode: 0o644, uid: 0, gid: 0, linkTarget: 'etc/passwd' },
      ]),
      await source([
        marker('.wh.opt'),
        file('etc/passwd', 'root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/app:/bin/sh\n'),
        marker('usr/bin/.wh.tool'),
        dir('var'),
        marker('var/.wh..wh..opq'),
        file('var/new', 'new'),
        link('etc/alias', '/etc/passwd'),
      ]),
      await source([marker('etc/.wh.group'), file('usr/bin/tool2', 'tool v2')]),
    ];
  });

  it('applies layers in order with whiteouts and opaque directories', async () => {
    const index = await buildFsIndex(layers);
    expect([...index.keys()].sort()).toEqual([
      'bin',
      'etc',
      'etc/alias',
      'etc/passwd',
      'etc/passwd-hard',
      'usr',
      'usr/bin',
      'usr/bin/tool2',
      'var',
      'var/new',
    ]);
    expect(index.get('etc/passwd')).toMatchObject({ type: 'file', layer: 1, mode: 0o644 });
    expect(index.get('bin')).toMatchObject({ type: 'symlink', linkTarget: 'usr/bin', layer: 0 });
    expect(resolveInIndex(index, 'bin/tool2')).toMatchObject({ path: 'usr/bin/tool2', entry: { type: 'file' } });
    expect(resolveInIndex(index, '/etc/./alias')).toMatchObject({ path: 'etc/passwd', entry: { layer: 1 } });
    // '..' after a symlink is physical, as in the kernel: /bin/.. is /usr
    expect(resolveInIndex(index, '/bin/../bin/tool2')).toMatchObject({ path: 'usr/bin/tool2' });
    expect(resolveInIndex(index, 'bin/../etc/alias')).toMatchObject({ path: 'usr/etc/alias', entry: undefined });
    expect(resolveInIndex(index, 'etc/alias', { followFinal: false })).toMatchObject({ path: 'etc/alias', entry: { type: 'symlink' } });
  });

  it('reads a file from the topmost layer that has it, honouring whiteouts and links', async () => {
    expect((await readFileFromLayers(layers, 'etc/passwd'))?.toString()).toContain('app:x:1000');
    expect((await readFileFromLayers(layers, '/etc/passwd'))?.toString()).toContain('app:x:1000');
    expect(await readFileFromLayers(layers, 'etc/group')).toBeUndefined(); // whited out in layer 3
    expect(await readFileFromLayers(layers.slice(0, 2), 'etc/group')).toBeDefined();
    expect(await readFileFromLayers(layers, 'opt/x/y')).toBeUndefined(); // parent whited out
    expect(await readFileFromLayers(layers, 'var/old')).toBeUndefined(); // opaque dir
    expect((await readFileFromLayers(layers, 'var/new'))?.toString()).toBe('new');
    expect(await readFileFromLayers(layers, 'usr/bin/tool')).toBeUndefined();
    expect((await readFileFromLayers(layers, 'bin/tool2'))?.toString()).toBe('tool v2'); // symlinked parent
    expect((await readFileFromLayers(layers, 'etc/alias'))?.toString()).toContain('app:x:1000'); // symlink
    expect((await readFileFromLayers(layers, 'etc/passwd-hard'))?.toString()).toBe('root:x:0:0::/root:/bin/sh\n'); // hardlink: layer 1's inode
    expect(await readFileFromLayers(layers, 'etc')).toBeUndefined();
    expect(await readFileFromLayers(layers, 'nope')).toBeUndefined();
  });
});
