// diffOverlayUpper on real overlay mounts: two hand-made lower layers (overlay format, a whiteout
// in the upper one), operations done in the merged directory, then the entries checked one by one,
// and the layer they make, applied over the lower layers (extractLayer, buildFsIndex), checked to
// give the merged view. Needs root with mount rights (helpers/requirements.ts decides whether a
// machine without them fails or skips).
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmod,
  chown,
  lchown,
  link,
  lstat,
  lutimes,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  readlink,
  rm,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import {
  LayerEntryError,
  buildFsIndex,
  comparePaths,
  diffOverlayUpper,
  extractLayer,
  writeLayer,
} from '../../src/layer/index.js';
import type { FsIndex, LayerEntry, LayerSource } from '../../src/layer/index.js';
import { capability, describeNeeding } from '../helpers/requirements.js';
import { TempStore, removeDir } from './helpers.js';

/** The mtime of everything in the lower layers (whole seconds, as unpacked from a tar). */
const LOWER_TIME = 1_600_000_000;
/** The writer's epoch: later than anything the tests do, so no mtime is clamped. */
const FUTURE = Math.floor(Date.now() / 1000) + 86_400;

const overlay = capability(
  'overlayfs',
  'an overlayfs mount (root with mount rights)',
  () => {
    if (process.platform !== 'linux') return `platform is ${process.platform}`;
    if (process.getuid?.() !== 0) return 'not running as root';
    const base = execFileSync('mktemp', ['-d', join(tmpdir(), 'kiln-ovl-probe-XXXXXX')], { encoding: 'utf8' }).trim();
    try {
      for (const d of ['l', 'u', 'w', 'm']) execFileSync('mkdir', [join(base, d)]);
      const r = spawnSync('mount', ['-t', 'overlay', 'overlay', '-o', mountOptions([join(base, 'l')], base), join(base, 'm')], {
        encoding: 'utf8',
      });
      if (r.status !== 0) return `mount -t overlay failed: ${(r.stderr || String(r.error)).trim()}`;
      spawnSync('umount', [join(base, 'm')]);
      return undefined;
    } finally {
      spawnSync('rm', ['-rf', base]);
    }
  },
  'run the tests as root, with mount rights (CAP_SYS_ADMIN) and the overlay filesystem',
);

function mountOptions(lowers: string[], base: string): string {
  return `lowerdir=${lowers.join(':')},upperdir=${join(base, 'u')},workdir=${join(base, 'w')},index=off,redirect_dir=off,metacopy=off`;
}

// ---------------------------------------------------------------------------------------------
// The lower layers

const dir = (path: string, mode = 0o755, uid = 0, gid = 0): LayerEntry => ({ path, type: 'dir', mode, uid, gid, mtime: LOWER_TIME });
const file = (path: string, text: string, mode = 0o644, uid = 0, gid = 0): LayerEntry => ({
  path,
  type: 'file',
  mode,
  uid,
  gid,
  mtime: LOWER_TIME,
  content: { data: Buffer.from(text) },
});
const link_ = (path: string, type: 'symlink' | 'hardlink', target: string): LayerEntry => ({
  path,
  type,
  mode: 0o777,
  uid: 0,
  gid: 0,
  linkTarget: target,
  mtime: LOWER_TIME,
});
const whiteout = (path: string): LayerEntry => ({ path, type: 'file', mode: 0, uid: 0, gid: 0, mtime: LOWER_TIME });

const L1: LayerEntry[] = [
  dir('etc'),
  file('etc/passwd', 'root:x:0:0:root:/root:/bin/sh\n'),
  file('etc/hostname', 'kiln\n'),
  file('etc/motd', 'hello\n'),
  file('etc/same', 'same\n'),
  file('etc/rewrite', 'rewrite\n'),
  file('etc/sneaky', 'abc\n'),
  link_('etc/link', 'symlink', 'hostname'),
  dir('usr'),
  dir('usr/bin'),
  file('usr/bin/tool', '#!/bin/sh\n', 0o755),
  file('usr/bin/su', 'su\n', 0o4755),
  dir('usr/lib'),
  file('usr/lib/a', 'a\n'),
  file('usr/lib/h1', 'hard\n'),
  link_('usr/lib/h2', 'hardlink', 'usr/lib/h1'),
  dir('usr/lib/sub'),
  file('usr/lib/sub/x', 'x\n'),
  file('usr/lib/sub/y', 'y\n'),
  dir('opt'),
  dir('opt/app'),
  file('opt/app/one', '1\n'),
  file('opt/app/two', '2\n'),
  dir('opt/app/nested'),
  file('opt/app/nested/deep', 'deep\n'),
  link_('bin', 'symlink', 'usr/bin'),
  link_('dirlink', 'symlink', 'opt'),
  file('tobedir', 'x\n'),
  dir('data', 0o700, 1000, 1000),
  file('data/f', 'f\n', 0o600, 1000, 1000),
  dir('gone'),
  file('gone/a', 'a\n'),
  dir('gone/b'),
  file('gone/b/c', 'c\n'),
  dir('var'),
  { path: 'var/pipe', type: 'fifo', mode: 0o644, uid: 0, gid: 0, mtime: LOWER_TIME },
];

const L2: LayerEntry[] = [
  dir('etc'),
  file('etc/hostname', 'kiln2\n'),
  whiteout('etc/.wh.motd'),
  dir('opt'),
  dir('opt/app'),
  file('opt/app/three', '3\n'),
];

/** A layer's entries as a directory in overlay format (a whiteout is a 0/0 character device). */
async function materialize(root: string, entries: LayerEntry[]): Promise<void> {
  const sorted = [...entries].sort((a, b) => comparePaths(a.path, b.path));
  const isWhiteout = (e: LayerEntry) => basename(e.path).startsWith('.wh.');
  for (const e of sorted) {
    const host = join(root, e.path);
    if (isWhiteout(e)) {
      execFileSync('mknod', ['-m', '000', join(dirname(host), basename(host).slice(4)), 'c', '0', '0']);
      continue;
    }
    if (e.type === 'dir') await mkdir(host);
    else if (e.type === 'file') await writeFile(host, e.content && 'data' in e.content ? e.content.data : '');
    else if (e.type === 'symlink') await symlink(e.linkTarget!, host);
    else if (e.type === 'hardlink') await link(join(root, e.linkTarget!), host);
    else if (e.type === 'fifo') execFileSync('mkfifo', [host]);
  }
  // Metadata deepest first, so a directory's mtime is set after its children were made.
  for (const e of sorted.reverse()) {
    if (isWhiteout(e) || e.type === 'hardlink') continue;
    const host = join(root, e.path);
    await lchown(host, e.uid, e.gid);
    if (e.type !== 'symlink') await chmod(host, e.mode);
    await lutimes(host, e.mtime!, e.mtime!);
  }
  await chmod(root, 0o755);
}

// ---------------------------------------------------------------------------------------------
// One overlay per test

interface Overlay {
  base: string;
  lowerDirs: string[];
  upper: string;
  merged: string;
  mounted: boolean;
  /** A path in the merged directory. */
  m(path: string): string;
}

let store: TempStore;
let work: string;
let lowerLayers: LayerSource[];
let lower: FsIndex;
let current: Overlay | undefined;
let servers: Server[] = [];
let umask: number;

async function source(entries: LayerEntry[]): Promise<LayerSource> {
  const layer = await writeLayer(entries, store, { epoch: FUTURE, compression: 'none' });
  return { open: () => store.openBlob(layer.digest), compression: 'none' };
}

async function mountOverlay(): Promise<Overlay> {
  const base = await mkdtemp(join(work, 'case-'));
  const [l1, l2, upper, merged] = ['l1', 'l2', 'u', 'm'].map((d) => join(base, d)) as [string, string, string, string];
  for (const d of [l1, l2, upper, join(base, 'w'), merged]) await mkdir(d);
  await materialize(l1, L1);
  await materialize(l2, L2);
  current = { base, lowerDirs: [l2, l1], upper, merged, mounted: false, m: (p) => join(merged, p) };
  execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', mountOptions([l2, l1], base), merged]);
  current.mounted = true;
  return current;
}

async function unmount(o: Overlay): Promise<void> {
  for (const s of servers) await new Promise<void>((res) => s.close(() => res()));
  servers = [];
  if (o.mounted) {
    const r = spawnSync('umount', [o.merged], { encoding: 'utf8' });
    if (r.status !== 0) spawnSync('umount', ['-l', o.merged]);
    o.mounted = false;
  }
}

async function diff(o: Overlay, exclude?: ReadonlySet<string>): Promise<LayerEntry[]> {
  return diffOverlayUpper({ upperDir: o.upper, mergedDir: o.merged, lowerDirs: o.lowerDirs, lower, exclude });
}

/** One line per entry: path, type, mode, owner, link target or device numbers. */
function summary(entries: LayerEntry[]): string[] {
  return entries.map((e) => {
    let s = `${e.path} ${e.type} ${e.mode.toString(8).padStart(4, '0')} ${e.uid}:${e.gid}`;
    if (e.linkTarget !== undefined) s += ` -> ${e.linkTarget}`;
    if (e.type === 'char' || e.type === 'block') s += ` ${e.devMajor},${e.devMinor}`;
    return s;
  });
}

// ---------------------------------------------------------------------------------------------
// The merged view vs the lower layers plus the diff

interface Seen {
  desc: string;
  mtime: number;
  type: string;
}

/** Every path below root (not root itself): type, mode, owner, size and content hash, target, device. */
async function snapshot(root: string, ignore: ReadonlySet<string> = new Set()): Promise<Map<string, Seen>> {
  const out = new Map<string, Seen>();
  async function walk(rel: string): Promise<void> {
    for (const name of (await readdir(join(root, rel))).sort(comparePaths)) {
      const path = rel ? `${rel}/${name}` : name;
      if (ignore.has(path)) continue;
      const host = join(root, path);
      const st = await lstat(host);
      const type = st.isDirectory()
        ? 'dir'
        : st.isFile()
          ? 'file'
          : st.isSymbolicLink()
            ? 'symlink'
            : st.isFIFO()
              ? 'fifo'
              : st.isCharacterDevice()
                ? 'char'
                : st.isBlockDevice()
                  ? 'block'
                  : 'other';
      let desc = `${type} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}`;
      if (type === 'file') desc += ` ${st.size} ${createHash('sha256').update(await readFile(host)).digest('hex').slice(0, 12)}`;
      if (type === 'symlink') desc += ` -> ${await readlink(host)}`;
      if (type === 'char' || type === 'block') desc += ` rdev ${st.rdev}`;
      out.set(path, { desc, mtime: Math.floor(st.mtimeMs / 1000), type });
      if (type === 'dir') await walk(path);
    }
  }
  await walk('');
  return out;
}

/**
 * The layer made of `entries`, extracted over the lower layers, gives the merged view (minus
 * `ignore`: mount stubs and sockets, which a layer does not carry): the same paths, types, modes,
 * owners, contents and targets; the same mtimes for everything but the directories the layer does
 * not carry (a directory's mtime alone is not a change, as in BuildKit). buildFsIndex over the
 * three layers lists the same paths with the same types and metadata.
 */
async function expectLayerGivesMergedView(o: Overlay, entries: LayerEntry[], ignore: ReadonlySet<string> = new Set()): Promise<void> {
  const layers = [...lowerLayers, await source(entries)]; // no entries: the empty layer a no-op RUN gets
  const root = await mkdtemp(join(o.base, 'applied-'));
  for (const l of layers) await extractLayer(l.open(), l.compression, root);
  const applied = await snapshot(root);
  const merged = await snapshot(o.merged, ignore);
  expect([...applied.keys()]).toEqual([...merged.keys()]);
  const inLayer = new Set(entries.map((e) => e.path));
  for (const [path, m] of merged) {
    const a = applied.get(path)!;
    expect(`${path}: ${a.desc}`).toBe(`${path}: ${m.desc}`);
    if (m.type !== 'dir' || inLayer.has(path)) expect(`${path}: mtime ${a.mtime}`).toBe(`${path}: mtime ${m.mtime}`);
  }

  const index = await buildFsIndex(layers);
  expect([...index.keys()].sort(comparePaths)).toEqual([...merged.keys()]);
  for (const [path, e] of index) {
    const target = e.type === 'hardlink' ? index.get(e.linkTarget!)! : e;
    const seen = merged.get(path)!;
    expect(`${path}: ${target.type} ${target.mode.toString(8)} ${target.uid}:${target.gid}`).toBe(
      `${path}: ${seen.desc.split(' ').slice(0, 3).join(' ')}`,
    );
  }
}

describeNeeding([overlay], 'diffOverlayUpper (real overlay mounts)', () => {
  beforeAll(async () => {
    umask = process.umask(0o022);
    store = await TempStore.create();
    work = await mkdtemp(join(tmpdir(), 'kiln-ovl-'));
    lowerLayers = [await source(L1), await source(L2)];
    lower = await buildFsIndex(lowerLayers);
  });
  afterEach(async () => {
    if (current) {
      await unmount(current);
      await removeDir(current.base);
      current = undefined;
    }
  });
  afterAll(async () => {
    process.umask(umask);
    await removeDir(work);
    await removeDir(store.root);
  });

  it('the lower index is the two layers applied in order (checked once, the other tests rely on it)', () => {
    expect(lower.get('etc/hostname')).toMatchObject({ type: 'file', size: 6, mtime: LOWER_TIME });
    expect(lower.has('etc/motd')).toBe(false);
    expect(lower.get('opt/app/three')).toMatchObject({ type: 'file' });
    expect(lower.get('usr/lib/h2')).toMatchObject({ type: 'hardlink', linkTarget: 'usr/lib/h1' });
  });

  it('an untouched overlay gives no entries', async () => {
    const o = await mountOverlay();
    expect(await diff(o)).toEqual([]);
    await expectLayerGivesMergedView(o, []);
  });

  it('copy-ups that keep metadata and content give no entries', async () => {
    const o = await mountOverlay();
    const { m } = o;
    await chown(m('etc/same'), 0, 0); // copied up, same owner
    await lchown(m('etc/link'), 0, 0); // a symlink copied up
    await chown(m('data'), 1000, 1000); // a directory copied up
    await chmod(m('etc/passwd'), 0o644); // same mode
    await chown(m('usr/lib/h1'), 0, 0); // one name of a lower hardlink pair
    await chown(m('var/pipe'), 0, 0); // a fifo
    await writeFile(m('etc/rewrite'), 'rewrite\n'); // same bytes, then the old mtime back:
    await utimes(m('etc/rewrite'), LOWER_TIME, LOWER_TIME); // whole seconds, so the contents decide
    await mkdir(m('scratch'));
    await writeFile(m('scratch/tmp'), 'tmp');
    await rm(m('scratch'), { recursive: true }); // made and removed in the step: nothing
    expect(execFileSync('find', [o.upper, '-mindepth', '1'], { encoding: 'utf8' })).toContain('etc/same');
    expect(await diff(o)).toEqual([]);
    await expectLayerGivesMergedView(o, []);
  });

  it('new files, directories, symlinks, fifos, devices and hardlinks, each with its ancestors as the upper has them', async () => {
    const o = await mountOverlay();
    const { m } = o;
    await mkdir(m('srv/www/html'), { recursive: true });
    await writeFile(m('srv/www/html/index.html'), '<h1>hi</h1>\n');
    await chmod(m('srv/www'), 0o750);
    await chown(m('srv'), 0, 50);
    await writeFile(m('usr/lib/sub/new'), 'new\n');
    await symlink('/etc/hostname', m('etc/alt'));
    execFileSync('mkfifo', ['-m', '0600', m('var/newpipe')]);
    execFileSync('mknod', ['-m', '0666', m('usr/lib/null'), 'c', '1', '3']);
    execFileSync('mknod', ['-m', '0660', m('usr/lib/loop'), 'b', '7', '200']);
    await writeFile(m('srv/data'), 'data\n');
    await link(m('srv/data'), m('srv/alias'));
    await link(m('srv/data'), m('aaa-first')); // sorts first: it carries the content
    await link(m('etc/passwd'), m('etc/passwd-link')); // a link to a lower file: both names are written
    const server = createServer();
    servers.push(server);
    await new Promise<void>((res) => server.listen(m('srv/sock'), res)); // sockets are skipped

    const entries = await diff(o);
    expect(summary(entries)).toEqual([
      'aaa-first file 0644 0:0',
      'etc dir 0755 0:0',
      'etc/alt symlink 0777 0:0 -> /etc/hostname',
      'etc/passwd file 0644 0:0',
      'etc/passwd-link hardlink 0644 0:0 -> etc/passwd',
      'srv dir 0755 0:50',
      'srv/alias hardlink 0644 0:0 -> aaa-first',
      'srv/data hardlink 0644 0:0 -> aaa-first',
      'srv/www dir 0750 0:0',
      'srv/www/html dir 0755 0:0',
      'srv/www/html/index.html file 0644 0:0',
      'usr dir 0755 0:0',
      'usr/lib dir 0755 0:0',
      'usr/lib/loop block 0660 0:0 7,200',
      'usr/lib/null char 0666 0:0 1,3',
      'usr/lib/sub dir 0755 0:0',
      'usr/lib/sub/new file 0644 0:0',
      'var dir 0755 0:0',
      'var/newpipe fifo 0600 0:0',
    ]);
    const byPath = new Map(entries.map((e) => [e.path, e]));
    // Ancestors carry the upper's metadata: usr kept its lower mtime, usr/lib/sub got a new child.
    expect(byPath.get('usr')!.mtime).toBe(LOWER_TIME);
    expect(byPath.get('usr/lib/sub')!.mtime).toBe(Math.floor((await lstat(m('usr/lib/sub'))).mtimeMs / 1000));
    expect(byPath.get('usr/lib/sub')!.mtime).toBeGreaterThan(LOWER_TIME);
    expect(byPath.get('srv/www/html/index.html')).toMatchObject({ size: 12, content: { path: join(o.upper, 'srv/www/html/index.html') } });
    await expectLayerGivesMergedView(o, entries, new Set(['srv/sock']));

    // The links survive the layer: one inode for the three new names, and for the two passwd names.
    const root = await mkdtemp(join(o.base, 'links-'));
    for (const l of [...lowerLayers, await source(entries)]) await extractLayer(l.open(), l.compression, root);
    const ino = async (p: string) => (await lstat(join(root, p))).ino;
    expect(await ino('srv/alias')).toBe(await ino('aaa-first'));
    expect(await ino('srv/data')).toBe(await ino('aaa-first'));
    expect(await ino('etc/passwd-link')).toBe(await ino('etc/passwd'));
  });

  it('deletions become whiteouts only for what exists below (a deleted directory is one whiteout)', async () => {
    const o = await mountOverlay();
    const { m } = o;
    await rm(m('etc/passwd'));
    await rm(m('etc/hostname')); // from the upper lower layer, over the bottom one's
    await rm(m('gone'), { recursive: true });
    await rm(m('usr/lib/sub/x'));
    await rm(m('usr/lib/h2')); // one name of a lower hardlink pair
    await rm(m('bin')); // a symlink
    await rm(m('var/pipe')); // a fifo
    await mkdir(m('made'));
    await writeFile(m('made/tmp'), 'tmp');
    await rm(m('made/tmp')); // made and removed in the step: no whiteout
    expect((await lstat(join(o.upper, 'etc/passwd'))).isCharacterDevice()).toBe(true);

    const entries = await diff(o);
    expect(summary(entries)).toEqual([
      '.wh.bin file 0000 0:0',
      '.wh.gone file 0000 0:0',
      'etc dir 0755 0:0',
      'etc/.wh.hostname file 0000 0:0',
      'etc/.wh.passwd file 0000 0:0',
      'made dir 0755 0:0',
      'usr dir 0755 0:0',
      'usr/lib dir 0755 0:0',
      'usr/lib/.wh.h2 file 0000 0:0',
      'usr/lib/sub dir 0755 0:0',
      'usr/lib/sub/.wh.x file 0000 0:0',
      'var dir 0755 0:0',
      'var/.wh.pipe file 0000 0:0',
    ]);
    for (const e of entries.filter((x) => x.path.includes('.wh.'))) {
      expect(e).toEqual({ path: e.path, type: 'file', mode: 0, uid: 0, gid: 0, mtime: 0 });
    }
    await expectLayerGivesMergedView(o, entries);
  });

  it('a directory removed and made again (opaque) whites out each lower child it hides, also in recreated subdirectories', async () => {
    const o = await mountOverlay();
    const { m } = o;
    await rm(m('opt/app'), { recursive: true });
    await mkdir(m('opt/app'));
    await writeFile(m('opt/app/one'), '1\n'); // same bytes as below, a new mtime: a change
    await mkdir(m('opt/app/nested')); // its lower child 'deep' stays hidden
    await rm(m('usr/lib/sub'), { recursive: true });
    await mkdir(m('usr/lib/sub'));

    const entries = await diff(o);
    expect(summary(entries)).toEqual([
      'opt dir 0755 0:0',
      'opt/app dir 0755 0:0',
      'opt/app/.wh.three file 0000 0:0',
      'opt/app/.wh.two file 0000 0:0',
      'opt/app/nested dir 0755 0:0',
      'opt/app/nested/.wh.deep file 0000 0:0',
      'opt/app/one file 0644 0:0',
      'usr dir 0755 0:0',
      'usr/lib dir 0755 0:0',
      'usr/lib/sub dir 0755 0:0',
      'usr/lib/sub/.wh.x file 0000 0:0',
      'usr/lib/sub/.wh.y file 0000 0:0',
    ]);
    expect(entries.some((e) => e.path.endsWith('.wh..wh..opq'))).toBe(false);
    await expectLayerGivesMergedView(o, entries);
  });

  it('a directory replaced by a symlink, a symlink by a directory, a file by a directory and back', async () => {
    const o = await mountOverlay();
    const { m } = o;
    await rm(m('gone'), { recursive: true });
    await symlink('/tmp', m('gone'));
    await rm(m('dirlink'));
    await mkdir(m('dirlink'));
    await writeFile(m('dirlink/f'), 'f\n');
    await rm(m('tobedir'));
    await mkdir(m('tobedir'), { mode: 0o700 });
    await rm(m('data'), { recursive: true });
    await writeFile(m('data'), 'now a file\n');
    await rm(m('etc/link'));
    await symlink('passwd', m('etc/link'));

    const entries = await diff(o);
    expect(summary(entries)).toEqual([
      'data file 0644 0:0',
      'dirlink dir 0755 0:0',
      'dirlink/f file 0644 0:0',
      'etc dir 0755 0:0',
      'etc/link symlink 0777 0:0 -> passwd',
      'gone symlink 0777 0:0 -> /tmp',
      'tobedir dir 0700 0:0',
    ]);
    await expectLayerGivesMergedView(o, entries);
  });

  it('metadata changes (chmod, setuid, chown, touch) and content changes the mtime does not show', async () => {
    const o = await mountOverlay();
    const { m } = o;
    await chmod(m('etc/passwd'), 0o600);
    await chmod(m('usr/bin/su'), 0o755); // setuid dropped
    await chmod(m('usr/bin/tool'), 0o4755); // setuid added
    await chown(m('etc/hostname'), 1000, 1000);
    await chmod(m('usr/lib'), 0o711); // a directory's mode
    await chown(m('data'), 0, 0); // a directory's owner
    const touched = new Date();
    await utimes(m('usr/lib/a'), touched, touched); // touch: the mtime alone
    await lutimes(m('etc/link'), touched, touched); // a symlink's mtime
    await writeFile(m('etc/rewrite'), 'rewrite\n'); // the same bytes again: a new mtime
    await writeFile(m('etc/sneaky'), 'xyz\n'); // same size, the old mtime back: only the bytes differ
    await utimes(m('etc/sneaky'), LOWER_TIME, LOWER_TIME);
    await writeFile(m('usr/lib/sub/y'), 'z\n'); // same size, the same second as below but not its nanoseconds
    await utimes(m('usr/lib/sub/y'), LOWER_TIME + 0.5, LOWER_TIME + 0.5);
    await writeFile(m('usr/lib/h1'), 'hard, changed\n'); // breaks the lower link: h2 keeps the old bytes

    const entries = await diff(o);
    expect(summary(entries)).toEqual([
      'data dir 0700 0:0',
      'etc dir 0755 0:0',
      'etc/hostname file 0644 1000:1000',
      'etc/link symlink 0777 0:0 -> hostname',
      'etc/passwd file 0600 0:0',
      'etc/rewrite file 0644 0:0',
      'etc/sneaky file 0644 0:0',
      'usr dir 0755 0:0',
      'usr/bin dir 0755 0:0',
      'usr/bin/su file 0755 0:0',
      'usr/bin/tool file 4755 0:0',
      'usr/lib dir 0711 0:0',
      'usr/lib/a file 0644 0:0',
      'usr/lib/h1 file 0644 0:0',
      'usr/lib/sub dir 0755 0:0',
      'usr/lib/sub/y file 0644 0:0',
    ]);
    const byPath = new Map(entries.map((e) => [e.path, e]));
    expect(byPath.get('usr/lib/a')!.mtime).toBe(Math.floor(touched.getTime() / 1000));
    expect(byPath.get('etc/sneaky')!.mtime).toBe(LOWER_TIME);
    expect(byPath.get('usr/lib/sub/y')!.mtime).toBe(LOWER_TIME);
    expect(byPath.get('etc/hostname')).toMatchObject({ size: 6, mtime: LOWER_TIME });
    await expectLayerGivesMergedView(o, entries);
    expect(await readFile(m('usr/lib/h2'), 'utf8')).toBe('hard\n');
  });

  it('leaves out the mount stubs it is told about when they are empty and new, directories of stubs too', async () => {
    const o = await mountOverlay();
    const { m } = o;
    await writeFile(m('etc/resolv.conf'), ''); // a bind target runc made
    await mkdir(m('proc')); // an empty directory stub
    await mkdir(m('run/secrets'), { recursive: true }); // a stub and the directory made for it
    await writeFile(m('run/secrets/token'), '');
    await mkdir(m('cache'));
    await writeFile(m('cache/data'), 'kept\n'); // a stub directory the step wrote into: kept
    await writeFile(m('etc/hosts'), '127.0.0.1 localhost\n'); // a stub path, not empty: kept
    await writeFile(m('etc/hostname'), ''); // in the exclude set, but it exists below: a change
    const exclude = new Set(['etc/resolv.conf', 'proc', 'run', 'run/secrets', 'run/secrets/token', 'cache', 'etc/hosts', 'etc/hostname']);

    const entries = await diff(o, exclude);
    expect(summary(entries)).toEqual([
      'cache dir 0755 0:0',
      'cache/data file 0644 0:0',
      'etc dir 0755 0:0',
      'etc/hostname file 0644 0:0',
      'etc/hosts file 0644 0:0',
    ]);
    expect(entries.find((e) => e.path === 'etc/hostname')).toMatchObject({ size: 0 });
    await expectLayerGivesMergedView(o, entries, new Set(['etc/resolv.conf', 'proc', 'run']));
  });

  it('refuses a name starting with .wh. (a layer would read it as a whiteout)', async () => {
    const o = await mountOverlay();
    await writeFile(join(o.merged, 'etc/.wh.sneaky'), 'not a whiteout\n');
    await expect(diff(o)).rejects.toThrow(LayerEntryError);
    await expect(diff(o)).rejects.toThrow(/\/etc\/\.wh\.sneaky was written by the step/);
  });
});
