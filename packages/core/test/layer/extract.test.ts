// extractLayer: layers stacked with whiteouts and opaque directories, metadata, and every escape
// attempt we could think of (refused or neutralized; nothing written outside the root).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lstat, mkdir, readFile, readdir, readlink, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { UnsafeEntryError, extractLayer, writeLayer } from '../../src/layer/index.js';
import type { LayerEntry } from '../../src/layer/index.js';
import { TempStore, rawTar, removeDir, tempDir } from './helpers.js';
import type { RawEntry } from './helpers.js';

const EPOCH = 1_600_000_000;
const isRoot = process.getuid?.() === 0;

let store: Awaited<ReturnType<typeof TempStore.create>>;
let work: string;
beforeAll(async () => {
  store = await TempStore.create();
  work = await tempDir();
});
afterAll(async () => {
  await removeDir(store.root);
  await removeDir(work);
});

const dir = (path: string, mode = 0o755): LayerEntry => ({ path, type: 'dir', mode, uid: 0, gid: 0 });
const file = (path: string, text: string, extra: Partial<LayerEntry> = {}): LayerEntry => ({
  path,
  type: 'file',
  mode: 0o644,
  uid: 0,
  gid: 0,
  content: { data: Buffer.from(text) },
  ...extra,
});
const marker = (path: string): LayerEntry => ({ path, type: 'file', mode: 0o644, uid: 0, gid: 0 });

async function applyLayers(root: string, layers: LayerEntry[][]): Promise<void> {
  for (const entries of layers) {
    const layer = await writeLayer(entries, store, { epoch: EPOCH });
    await extractLayer(store.openBlob(layer.digest), 'gzip', root);
  }
}

/** Every path under dir, relative, sorted; directories end with '/'. */
async function tree(root: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const name of (await readdir(join(root, rel))).sort()) {
    const p = rel ? `${rel}/${name}` : name;
    const st = await lstat(join(root, p));
    if (st.isDirectory()) out.push(`${p}/`, ...(await tree(root, p)));
    else out.push(p);
  }
  return out;
}

describe('extractLayer', () => {
  it('applies whiteouts and opaque directories across layers', async () => {
    const root = join(work, 'stack');
    await mkdir(root);
    await applyLayers(root, [
      [
        dir('etc'),
        file('etc/passwd', 'root:x:0:0\n'),
        file('etc/group', 'root:x:0:\n'),
        dir('opt'),
        dir('opt/tool'),
        file('opt/tool/bin', 'v1'),
        dir('data'),
        file('data/a', 'a'),
        file('data/b', 'b'),
        dir('data/sub'),
        file('data/sub/x', 'x'),
        dir('keep'),
        file('keep/one', '1'),
      ],
      [
        marker('.wh.opt'), // deletes a whole directory
        marker('etc/.wh.group'), // deletes a file
        file('etc/passwd', 'root:x:0:0\nuser:x:1000:1000\n'),
        dir('data'),
        marker('data/.wh..wh..opq'), // hides data/a, data/b, data/sub/x from layer 1 ...
        file('data/+early', 'sorts before the marker'), // ... but not what this layer adds,
        file('data/late', 'sorts after the marker'), // before or after the marker
        dir('data/sub'),
        file('data/sub/y', 'y'),
        marker('keep/.wh.missing'), // whiteout of nothing: no-op
      ],
    ]);
    expect(await tree(root)).toEqual([
      'data/',
      'data/+early',
      'data/late',
      'data/sub/',
      'data/sub/y',
      'etc/',
      'etc/passwd',
      'keep/',
      'keep/one',
    ]);
    expect(await readFile(join(root, 'etc/passwd'), 'utf8')).toContain('user:x:1000');
  });

  it('applies a whiteout only to lower layers, and replaces types both ways', async () => {
    const root = join(work, 'replace');
    await mkdir(root);
    await applyLayers(root, [
      [dir('a'), file('a/old', 'old'), file('f', 'file'), dir('d'), file('d/x', 'x'), file('s', 'was a file'), dir('+d'), file('+d/old', 'old')],
      [
        // '+d' sorts before '.wh.+d': the whiteout comes after this layer's own '+d/'.
        dir('+d'),
        file('+d/new', 'new'),
        marker('.wh.+d'),
        file('a', 'a dir became a file'),
        dir('f'),
        file('f/inside', 'a file became a dir'),
        { path: 's', type: 'symlink', mode: 0o777, uid: 0, gid: 0, linkTarget: 'f/inside' },
        marker('.wh.d'),
        dir('d'),
        file('d/new', 'recreated in the same layer'),
      ],
    ]);
    expect(await tree(root)).toEqual(['+d/', '+d/new', 'a', 'd/', 'd/new', 'f/', 'f/inside', 's']);
    expect(await readFile(join(root, 's'), 'utf8')).toBe('a file became a dir');
  });

  it('sets modes (setuid, sticky), owners, mtimes, symlinks, hardlinks, fifos and devices', async () => {
    const root = join(work, 'meta');
    await mkdir(root);
    await applyLayers(root, [
      [
        dir('tmp', 0o1777),
        dir('locked', 0o500),
        file('locked/inside', 'x', { mode: 0o400 }),
        file('su', '#!', { mode: 0o4755, uid: 0, gid: 0, mtime: 1000 }),
        file('owned', 'o', { uid: 1234, gid: 5678 }),
        { path: 'link', type: 'symlink', mode: 0o777, uid: 1234, gid: 5678, linkTarget: '/does/not/exist' },
        { path: 'hard', type: 'hardlink', mode: 0o644, uid: 0, gid: 0, linkTarget: 'owned' },
        { path: 'pipe', type: 'fifo', mode: 0o600, uid: 0, gid: 0 },
        { path: 'null', type: 'char', mode: 0o666, uid: 0, gid: 0, devMajor: 1, devMinor: 3 },
      ],
    ]);
    expect((await stat(join(root, 'tmp'))).mode & 0o7777).toBe(0o1777);
    expect((await stat(join(root, 'locked'))).mode & 0o7777).toBe(0o500);
    expect((await stat(join(root, 'su'))).mode & 0o7777).toBe(0o4755);
    expect((await stat(join(root, 'su'))).mtimeMs).toBe(1000 * 1000);
    expect((await stat(join(root, 'tmp'))).mtimeMs).toBe(EPOCH * 1000);
    expect(await readlink(join(root, 'link'))).toBe('/does/not/exist');
    expect((await stat(join(root, 'hard'))).ino).toBe((await stat(join(root, 'owned'))).ino);
    expect((await lstat(join(root, 'pipe'))).isFIFO()).toBe(true);
    if (isRoot) {
      expect((await stat(join(root, 'owned'))).uid).toBe(1234);
      expect((await stat(join(root, 'owned'))).gid).toBe(5678);
      expect((await lstat(join(root, 'link'))).uid).toBe(1234);
      const dev = await lstat(join(root, 'null'));
      expect(dev.isCharacterDevice()).toBe(true);
      expect(dev.rdev).toBe(0x103);
    } else {
      expect(existsSync(join(root, 'null'))).toBe(false);
    }
  });

  it('reports skipped devices when not allowed to create them', async () => {
    const root = join(work, 'nodev');
    await mkdir(root);
    const layer = await writeLayer(
      [{ path: 'null', type: 'char', mode: 0o666, uid: 0, gid: 0, devMajor: 1, devMinor: 3 }],
      store,
      { epoch: EPOCH },
    );
    const result = await extractLayer(store.openBlob(layer.digest), 'gzip', root, { devices: false });
    expect(result.skipped).toEqual([{ path: 'null', reason: expect.stringContaining('root') }]);
    expect(await readdir(root)).toEqual([]);
  });

  it('reads tars made by GNU tar (./ prefixes, root entry)', async () => {
    const src = join(work, 'gnu-src');
    await mkdir(join(src, 'sub'), { recursive: true });
    await writeFile(join(src, 'sub/f'), 'gnu');
    const tarFile = join(work, 'gnu.tar');
    execFileSync('tar', ['-cf', tarFile, '-C', src, '.']);
    const root = join(work, 'gnu-root');
    await mkdir(root);
    await extractLayer(Readable.from(await readFile(tarFile)), 'none', root);
    expect(await tree(root)).toEqual(['sub/', 'sub/f']);
  });
});

describe('extractLayer safety', () => {
  let n = 0;
  /** A fresh sandbox: <box>/root is the extraction root, <box>/outside must stay untouched. */
  async function sandbox() {
    const box = join(work, `box${++n}`);
    await mkdir(join(box, 'root'), { recursive: true });
    await mkdir(join(box, 'outside'));
    await writeFile(join(box, 'outside/secret'), 'untouched');
    return { box, root: join(box, 'root'), outside: join(box, 'outside') };
  }
  async function assertOutsideUntouched(box: string) {
    expect((await readdir(box)).sort()).toEqual(['outside', 'root']);
    expect(await readdir(join(box, 'outside'))).toEqual(['secret']);
    expect(await readFile(join(box, 'outside/secret'), 'utf8')).toBe('untouched');
    expect((await lstat(join(box, 'outside/secret'))).nlink).toBe(1);
  }
  const extractRaw = (entries: RawEntry[], root: string, gzip = false) =>
    gzip
      ? extractLayer(Readable.from(gzipSync(rawTar(entries))), 'gzip', root)
      : extractLayer(Readable.from(rawTar(entries)), 'none', root);

  it.each([
    ['../x', [{ path: '../x', data: 'evil' }]],
    ['a/../../x', [{ path: 'a/../../x', data: 'evil' }]],
    ['../outside/secret', [{ path: '../outside/secret', data: 'evil' }]],
    ['long pax ../ path', [{ path: 'innocent', paxPath: `${'a/'.repeat(60)}${'../'.repeat(62)}outside/secret`, data: 'evil' }]],
    ['dir/../../', [{ path: 'dir/../../', type: 'Directory' as const }]],
  ])('refuses a path that climbs out: %s', async (name, entries) => {
    const { box, root } = await sandbox();
    const p = extractRaw(entries as RawEntry[], root);
    await expect(p).rejects.toThrow(UnsafeEntryError);
    await expect(extractRaw(entries as RawEntry[], root, true)).rejects.toThrow(/refusing to extract ".*\.\.\/.*"/);
    await assertOutsideUntouched(box);
  });

  it('refuses a hardlink whose target climbs out (../../etc/passwd), naming the entry', async () => {
    const { box, root } = await sandbox();
    const before = (await lstat('/etc/passwd')).nlink;
    await expect(extractRaw([{ path: 'pw', type: 'Link', linkpath: '../../etc/passwd' }], root)).rejects.toThrow(
      /refusing to extract "pw".*hardlink target "\.\.\/\.\.\/etc\/passwd"/,
    );
    await expect(extractRaw([{ path: 'pw', type: 'Link', linkpath: '/../outside/secret' }], root)).rejects.toThrow(UnsafeEntryError);
    expect((await lstat('/etc/passwd')).nlink).toBe(before);
    await assertOutsideUntouched(box);
  });

  it('takes absolute paths relative to the root', async () => {
    const { box, root } = await sandbox();
    await extractRaw([{ path: '/abs', data: 'inside' }, { path: '//double/slash', data: 'inside too' }], root);
    expect(await readFile(join(root, 'abs'), 'utf8')).toBe('inside');
    expect(await readFile(join(root, 'double/slash'), 'utf8')).toBe('inside too');
    await assertOutsideUntouched(box);
  });

  it('never writes through a symlink to outside: evil -> /etc, then evil/<file>', async () => {
    const { box, root } = await sandbox();
    const name = `kiln-test-${process.pid}-should-not-exist`;
    await extractRaw(
      [
        { path: 'evil', type: 'SymbolicLink', linkpath: '/etc' },
        { path: `evil/${name}`, data: 'pwned' },
      ],
      root,
    );
    expect(existsSync(`/etc/${name}`)).toBe(false);
    // Neutralized: resolved as the container would see it, inside the root.
    expect(await readFile(join(root, 'etc', name), 'utf8')).toBe('pwned');
    expect(await readlink(join(root, 'evil'))).toBe('/etc');
    await assertOutsideUntouched(box);
  });

  it('never writes through symlinks pointing at the host path or climbing with ..', async () => {
    const { box, root, outside } = await sandbox();
    await extractRaw(
      [
        { path: 'abs', type: 'SymbolicLink', linkpath: outside }, // the host path of outside/
        { path: 'abs/secret', data: 'pwned' },
        { path: 'rel', type: 'SymbolicLink', linkpath: '../../outside' },
        { path: 'rel/secret', data: 'pwned' },
        { path: 'deep/x', type: 'Directory' },
        { path: 'deep/x/up', type: 'SymbolicLink', linkpath: '../../../../../../../..' },
        { path: 'deep/x/up/outside/secret', data: 'pwned' },
        { path: 'chain1', type: 'SymbolicLink', linkpath: 'chain2/..' },
        { path: 'chain2', type: 'SymbolicLink', linkpath: '/../..' },
        { path: 'chain1/outside/secret', data: 'pwned' },
      ],
      root,
    );
    await assertOutsideUntouched(box);
    expect(await readFile(join(root, outside, 'secret'), 'utf8')).toBe('pwned');
    expect(await readFile(join(root, 'outside/secret'), 'utf8')).toBe('pwned');
  });

  it('replaces a symlink instead of following it when the same name comes again', async () => {
    const { box, root, outside } = await sandbox();
    await extractRaw(
      [
        { path: 'f', type: 'SymbolicLink', linkpath: join(outside, 'secret') },
        { path: 'f', data: 'replaced the link' },
        { path: 'd', type: 'SymbolicLink', linkpath: outside },
        { path: 'd', type: 'Directory' },
        { path: 'd/secret', data: 'in a real dir' },
      ],
      root,
    );
    expect((await lstat(join(root, 'f'))).isFile()).toBe(true);
    expect((await lstat(join(root, 'd'))).isDirectory()).toBe(true);
    await assertOutsideUntouched(box);
  });

  it('resolves hardlink targets inside the root (never to the host through a symlink)', async () => {
    const { box, root, outside } = await sandbox();
    const before = (await lstat('/etc/passwd')).nlink;
    await expect(
      extractRaw(
        [
          { path: 'evil', type: 'SymbolicLink', linkpath: '/etc' },
          { path: 'pw', type: 'Link', linkpath: 'evil/passwd' },
        ],
        root,
      ),
    ).rejects.toThrow(/hardlink "pw".*does not exist/);
    expect((await lstat('/etc/passwd')).nlink).toBe(before);
    const { root: root2 } = await sandbox();
    await expect(
      extractRaw(
        [
          { path: 'o', type: 'SymbolicLink', linkpath: outside },
          { path: 's', type: 'Link', linkpath: 'o/secret' },
        ],
        root2,
      ),
    ).rejects.toThrow(/does not exist/);
    await assertOutsideUntouched(box);
  });

  it('links to a symlink itself, not to what it points at', async () => {
    const { box, root, outside } = await sandbox();
    await extractRaw(
      [
        { path: 'ln', type: 'SymbolicLink', linkpath: join(outside, 'secret') },
        { path: 'hard', type: 'Link', linkpath: 'ln' },
      ],
      root,
    );
    expect((await lstat(join(root, 'hard'))).isSymbolicLink()).toBe(true);
    await assertOutsideUntouched(box);
  });

  it('does not let whiteouts delete outside the root', async () => {
    const { box, root, outside } = await sandbox();
    await extractRaw(
      [
        { path: 'up', type: 'SymbolicLink', linkpath: '../..' },
        { path: 'up/outside/.wh.secret' },
        { path: 'abs', type: 'SymbolicLink', linkpath: outside },
        { path: 'abs/.wh.secret' },
        { path: 'abs/.wh..wh..opq' },
        { path: '.wh...' },
        { path: '.wh..' },
      ],
      root,
    );
    await assertOutsideUntouched(box);
    await expect(extractRaw([{ path: '../outside/.wh.secret' }], root)).rejects.toThrow(UnsafeEntryError);
    await assertOutsideUntouched(box);
  });

  it('fails clearly on a truncated or corrupt layer', async () => {
    const { root } = await sandbox();
    const tar = rawTar([{ path: 'big', data: Buffer.alloc(10_000, 1) }]);
    await expect(extractLayer(Readable.from(tar.subarray(0, 3000)), 'none', root)).rejects.toThrow(/invalid layer: Truncated input/);
    await expect(extractLayer(Readable.from(Buffer.from('not gzip at all')), 'gzip', root)).rejects.toThrow(/invalid layer/);
    const bad = Buffer.from(tar);
    bad[0] = 0x41; // checksum no longer matches
    await expect(extractLayer(Readable.from(bad), 'none', root)).rejects.toThrow(/invalid layer/);
  });
});
