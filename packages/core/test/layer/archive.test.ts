// extractArchive (Dockerfile ADD of a local archive): compression by magic bytes, GNU-tar-made
// archives, non-archives, escapes, and the list of what was written.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lstat, mkdir, readFile, readdir, readlink, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { UnsafeEntryError, extractArchive, sniffFileCompression, writeLayer } from '../../src/layer/index.js';
import { TempStore, rawTar, removeDir, tempDir } from './helpers.js';

let work: string;
let src: string;
beforeAll(async () => {
  work = await tempDir();
  src = join(work, 'src');
  await mkdir(join(src, 'bin'), { recursive: true });
  await mkdir(join(src, 'share/doc'), { recursive: true });
  await writeFile(join(src, 'bin/tool'), '#!/bin/sh\necho tool\n', { mode: 0o755 });
  await writeFile(join(src, 'share/doc/README'), 'read me\n');
  await symlink('../bin/tool', join(src, 'share/tool-link'));
  execFileSync('chmod', ['4755', join(src, 'bin/tool')]);
});
afterAll(async () => {
  await removeDir(work);
});

const archives: [string, string[], string][] = [
  ['plain tar', ['-cf'], 'a.tar'],
  ['gzip', ['-czf'], 'a.tar.gz'],
  ['bzip2', ['-cjf'], 'a.tar.bz2'],
  ['xz', ['-cJf'], 'a.tar.xz'],
  ['zstd', ['--zstd', '-cf'], 'a.tar.zst'],
];

describe('extractArchive', () => {
  it.each(archives)('extracts a %s archive made by GNU tar', async (kind, flags, name) => {
    const file = join(work, name);
    execFileSync('tar', [...flags, file, '--owner=123', '--group=456', '-C', src, '.']);
    const dest = join(work, `out-${name}`);
    const written = await extractArchive(file, dest);
    expect(written).not.toBe(false);
    expect(await readFile(join(dest, 'bin/tool'), 'utf8')).toContain('echo tool');
    expect((await stat(join(dest, 'bin/tool'))).mode & 0o7777).toBe(0o4755);
    expect(await readlink(join(dest, 'share/tool-link'))).toBe('../bin/tool');
    if (process.getuid?.() === 0) expect((await stat(join(dest, 'bin/tool'))).uid).toBe(123);
    const list = written as Exclude<typeof written, false>;
    const byPath = new Map(list.map((e) => [e.path, e]));
    expect(byPath.get('bin/tool')).toMatchObject({ type: 'file', mode: 0o4755, uid: 123, gid: 456, size: 20, content: { path: join(dest, 'bin/tool') } });
    expect(byPath.get('share/tool-link')).toMatchObject({ type: 'symlink', linkTarget: '../bin/tool' });
    expect(byPath.get('share/doc')).toMatchObject({ type: 'dir' });
    expect([...byPath.keys()].sort()).toEqual(['bin', 'bin/tool', 'share', 'share/doc', 'share/doc/README', 'share/tool-link']);
    expect(await sniffFileCompression(file)).toBe(kind === 'plain tar' ? 'none' : kind);
  });

  it('gives a list that writeLayer accepts as is', async () => {
    const dest = join(work, 'for-layer');
    const written = await extractArchive(join(work, 'a.tar.gz'), dest);
    if (written === false) throw new Error('expected an archive');
    const store = await TempStore.create();
    try {
      const layer = await writeLayer(written, store, { epoch: 0 });
      expect(layer.entries).toBe(written.length);
    } finally {
      await removeDir(store.root);
    }
  });

  it('returns false for files that are not tar archives', async () => {
    const text = join(work, 'notes.txt');
    await writeFile(text, 'just some text, long enough? '.repeat(40));
    expect(await extractArchive(text, join(work, 'n1'))).toBe(false);
    const tiny = join(work, 'tiny');
    await writeFile(tiny, 'x');
    expect(await extractArchive(tiny, join(work, 'n2'))).toBe(false);
    const gz = join(work, 'notes.txt.gz');
    await writeFile(gz, gzipSync(Buffer.from('compressed text, not a tar '.repeat(50))));
    expect(await extractArchive(gz, join(work, 'n3'))).toBe(false);
    const fakeGz = join(work, 'fake.gz');
    await writeFile(fakeGz, Buffer.concat([Buffer.from([0x1f, 0x8b]), Buffer.from('garbage that is not deflate')]));
    expect(await extractArchive(fakeGz, join(work, 'n4'))).toBe(false);
    const fakeBz = join(work, 'fake.bz2');
    await writeFile(fakeBz, 'BZh9 but not really bzip2 data');
    expect(await extractArchive(fakeBz, join(work, 'n5'))).toBe(false);
    expect(existsSync(join(work, 'n1'))).toBe(false);
  });

  it('refuses entries that would escape the destination, naming them', async () => {
    const box = join(work, 'archive-escape');
    await mkdir(join(box, 'dest'), { recursive: true });
    for (const [i, entries] of [
      [{ path: '../x', data: 'evil' }],
      [{ path: 'ok/../../x', data: 'evil' }],
      [{ path: 'h', type: 'Link' as const, linkpath: '../../etc/passwd' }],
    ].entries()) {
      const file = join(box, `evil${i}.tar`);
      await writeFile(file, rawTar(entries));
      const p = extractArchive(file, join(box, 'dest'));
      await expect(p).rejects.toThrow(UnsafeEntryError);
      await expect(p).rejects.toThrow(new RegExp(`refusing to extract "${entries[0]!.path.replace(/\./g, '\\.')}" from .*evil${i}\\.tar`));
    }
    expect((await readdir(box)).sort()).toEqual(['dest', 'evil0.tar', 'evil1.tar', 'evil2.tar']);
  });

  it('resolves symlinks inside the given root, not on the host', async () => {
    const rootfs = join(work, 'rootfs');
    await mkdir(join(rootfs, 'usr/lib'), { recursive: true });
    await symlink('/usr/lib', join(rootfs, 'lib')); // absolute in the image: /usr/lib
    await mkdir(join(rootfs, 'app'));
    const file = join(work, 'into-lib.tar');
    await writeFile(
      file,
      rawTar([
        { path: 'lib/libx.so', data: 'lib' },
        { path: 'etc-link', type: 'SymbolicLink', linkpath: '/etc' },
        { path: 'etc-link/kiln-should-not-exist', data: 'no' },
      ]),
    );
    // ADD into-lib.tar / : dest is the root itself
    const written = await extractArchive(file, rootfs, { root: rootfs });
    expect(await readFile(join(rootfs, 'usr/lib/libx.so'), 'utf8')).toBe('lib');
    expect(existsSync('/etc/kiln-should-not-exist')).toBe(false);
    expect(await readFile(join(rootfs, 'etc/kiln-should-not-exist'), 'utf8')).toBe('no');
    const paths = (written as { path: string }[]).map((e) => e.path).sort();
    expect(paths).toEqual(['etc', 'etc-link', 'etc/kiln-should-not-exist', 'usr/lib/libx.so']);
    // ADD into-lib.tar /app/ : paths are relative to the root; escapes are judged against /app
    const appWritten = await extractArchive(file, join(rootfs, 'app'), { root: rootfs });
    expect((appWritten as { path: string }[]).map((e) => e.path).sort()).toEqual([
      'app/etc-link',
      'app/lib',
      'app/lib/libx.so',
      'etc/kiln-should-not-exist',
    ]);
    expect((await lstat(join(rootfs, 'app/lib'))).isDirectory()).toBe(true);
    await expect(extractArchive(file, work, { root: rootfs })).rejects.toThrow(/not inside the root/);
  });
});
