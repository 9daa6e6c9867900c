/**
 * What an image in the test dockerd looks like, in a form two images can be compared by:
 * its normalized config (`imageConfig`) and its file tree (`imageTree`).
 *
 * Config normalization (applied to `docker image inspect` output, so to both sides alike):
 *   - Env, OnBuild:          null / absent / []   -> []   (order kept: it is meaningful)
 *   - Labels:                null / absent / {}   -> {}   (keys sorted)
 *   - ExposedPorts, Volumes: null / absent / {}   -> []   (the sorted keys, e.g. "53/udp")
 *   - Cmd, Entrypoint, Shell: null / absent       -> null; [] stays [] (an image config may hold
 *                            either; note that BuildKit 20.10 writes `CMD []` as no Cmd at all, so
 *                            docker shows null there, and a Kiln image with "Cmd": [] will differ)
 *   - WorkingDir, User, StopSignal, Author, Os, Architecture, Variant: null / absent -> ""
 *   - Healthcheck:           null / absent -> null; else {Test (null if absent), Interval,
 *                            Timeout, StartPeriod (nanoseconds, absent -> 0), Retries (absent -> 0)}
 *   - Author is the top-level image field (MAINTAINER), not Config's.
 *   - LayerCount: RootFS.Layers.length (metadata-only steps must not add layers).
 * Not compared: Id, Created, Container, ContainerConfig, DockerVersion, Size, RootFS digests
 * (timestamps and mtimes differ between any two builds).
 *
 * File tree: see imageTree(). Two sources:
 *   - 'export' (default): `docker create` + `docker export`, i.e. the filesystem a container sees.
 *     docker's init layer adds things that are not in the image; these are dropped: /.dockerenv,
 *     /etc/hostname, /etc/hosts, /etc/resolv.conf (all empty files), /etc/mtab (a symlink to
 *     /proc/mounts, added only when the image has no /etc/mtab), /dev (with /dev/console, /dev/pts,
 *     /dev/shm), /proc and /sys. The init layer only creates what is missing, and when the image has
 *     no /etc at all it creates /etc (0755 root): that /etc cannot be told apart from a real one, so
 *     for scratch images use 'layers'. /etc's mtime is always the export time (mtimes are not compared).
 *   - 'layers': `docker save` + applying the layers in order (whiteouts and opaque directories
 *     honoured): exactly the image's filesystem, nothing injected, with real mtimes. Note that
 *     BuildKit RUN layers contain empty /dev, /proc and /sys dirs (its mount points), which
 *     'export' hides: pass DOCKER_INJECTED_IGNORE to diffTrees when that matters.
 */
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { Readable } from 'node:stream';
import { Parser, type ReadEntry } from 'tar';
import type { Dockerd } from './dockerd.js';

// ---------------------------------------------------------------------------------------------
// Config

export interface NormalizedHealthcheck {
  Test: string[] | null;
  Interval: number;
  Timeout: number;
  StartPeriod: number;
  Retries: number;
}

export interface NormalizedConfig {
  Env: string[];
  Cmd: string[] | null;
  Entrypoint: string[] | null;
  WorkingDir: string;
  User: string;
  Labels: Record<string, string>;
  ExposedPorts: string[];
  Volumes: string[];
  StopSignal: string;
  Healthcheck: NormalizedHealthcheck | null;
  Shell: string[] | null;
  OnBuild: string[];
  Author: string;
  Os: string;
  Architecture: string;
  Variant: string;
  LayerCount: number;
}

type Json = Record<string, unknown>;

const strArr = (v: unknown): string[] | null => (Array.isArray(v) ? v.map(String) : null);
const str = (v: unknown): string => (typeof v === 'string' ? v : v == null ? '' : String(v));
const num = (v: unknown): number => (typeof v === 'number' ? v : 0);
const keys = (v: unknown): string[] => (v && typeof v === 'object' ? Object.keys(v).sort() : []);

/** Normalizes one `docker image inspect` object (see the mapping at the top of this file). */
export function normalizeInspect(inspect: Json): NormalizedConfig {
  const c = (inspect.Config ?? {}) as Json;
  const labels: Record<string, string> = {};
  const rawLabels = (c.Labels ?? {}) as Record<string, unknown>;
  for (const k of Object.keys(rawLabels).sort()) labels[k] = str(rawLabels[k]);
  const hc = c.Healthcheck as Json | null | undefined;
  const rootfs = (inspect.RootFS ?? {}) as Json;
  return {
    Env: strArr(c.Env) ?? [],
    Cmd: strArr(c.Cmd),
    Entrypoint: strArr(c.Entrypoint),
    WorkingDir: str(c.WorkingDir),
    User: str(c.User),
    Labels: labels,
    ExposedPorts: keys(c.ExposedPorts),
    Volumes: keys(c.Volumes),
    StopSignal: str(c.StopSignal),
    Healthcheck: hc
      ? { Test: strArr(hc.Test), Interval: num(hc.Interval), Timeout: num(hc.Timeout), StartPeriod: num(hc.StartPeriod), Retries: num(hc.Retries) }
      : null,
    Shell: strArr(c.Shell),
    OnBuild: strArr(c.OnBuild) ?? [],
    Author: str(inspect.Author),
    Os: str(inspect.Os),
    Architecture: str(inspect.Architecture),
    Variant: str(inspect.Variant),
    LayerCount: Array.isArray(rootfs.Layers) ? rootfs.Layers.length : 0,
  };
}

/** The raw `docker image inspect` object of an image. */
export async function inspectImage(dockerd: Dockerd, image: string): Promise<Json> {
  const out = await dockerd.dockerOk(['image', 'inspect', image]);
  const arr = JSON.parse(out) as Json[];
  if (!arr[0]) throw new Error(`docker image inspect ${image}: empty answer`);
  return arr[0];
}

/** The normalized config of an image in the test dockerd. */
export async function imageConfig(dockerd: Dockerd, image: string): Promise<NormalizedConfig> {
  return normalizeInspect(await inspectImage(dockerd, image));
}

/** Readable differences between two normalized configs, one line per differing field. */
export function diffConfigs(a: NormalizedConfig, b: NormalizedConfig, opts: { ignore?: string[]; labels?: [string, string] } = {}): string[] {
  const [la, lb] = opts.labels ?? ['A', 'B'];
  const out: string[] = [];
  for (const k of Object.keys(a) as (keyof NormalizedConfig)[]) {
    if (opts.ignore?.includes(k)) continue;
    const va = JSON.stringify(a[k]);
    const vb = JSON.stringify(b[k]);
    if (va !== vb) out.push(`config ${k}: ${la}=${va} ${lb}=${vb}`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// File tree

export type EntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

export interface TreeEntry {
  /** Absolute path without a trailing slash, e.g. /etc/passwd */
  path: string;
  type: EntryType;
  /** Permission bits including setuid/setgid/sticky, 4 octal digits, e.g. "0644", "4755", "1777". */
  mode: string;
  uid: number;
  gid: number;
  /**
   * Content size for files and hardlinks; 0 otherwise. Hardlinks are canonical: of the paths
   * sharing an inode the smallest is a 'file', the others are 'hardlink' (mode, owner, size and
   * sha256 are the file's), whatever order the tar had them in.
   */
  size: number;
  /** sha256 hex of the content for files and hardlinks; null otherwise. */
  sha256: string | null;
  /** Symlink target as stored, or for a hardlink the group's smallest path; null otherwise. */
  linkTarget: string | null;
  /** Modification time in seconds (not compared by diffTrees unless asked). */
  mtime: number;
}

export type TreeSource = 'export' | 'layers';

const TYPES: Record<string, EntryType | undefined> = {
  File: 'file',
  OldFile: 'file',
  ContiguousFile: 'file',
  Directory: 'dir',
  SymbolicLink: 'symlink',
  Link: 'hardlink',
  CharacterDevice: 'char',
  BlockDevice: 'block',
  FIFO: 'fifo',
};

/** "./a/b/" -> "/a/b"; "" for the root. */
export function normPath(p: string): string {
  const parts = p.split('/').filter((s) => s !== '' && s !== '.');
  return parts.length ? '/' + parts.join('/') : '';
}

const octal = (mode: number): string => (mode & 0o7777).toString(8).padStart(4, '0');

function tarNumber(field: Buffer): number {
  if (field[0]! & 0x80) {
    // base-256 (GNU/star) for big values
    let n = 0;
    for (let i = 1; i < field.length; i++) n = n * 256 + field[i]!;
    return n;
  }
  const text = field.toString('latin1').replace(/\0.*$/s, '').trim();
  return text ? parseInt(text, 8) : 0;
}

/**
 * Clears the linkname of non-link tar headers (fixing their checksums). docker 20.10's overlay2
 * differ writes whiteout entries (.wh.*) as regular files that carry a stale linkname from a
 * previous entry; node-tar refuses those in strict mode ("TAR_ENTRY_INVALID: linkpath forbidden")
 * and silently drops them otherwise, which would lose the whiteouts.
 */
export function sanitizeTar(buf: Buffer): Buffer {
  let out: Buffer | undefined;
  let off = 0;
  let paxSize: number | undefined;
  while (off + 512 <= buf.length) {
    const h = buf.subarray(off, off + 512);
    if (h.every((b) => b === 0)) {
      off += 512;
      continue;
    }
    const type = String.fromCharCode(h[156]!);
    const meta = type === 'x' || type === 'g' || type === 'L' || type === 'K';
    let size = tarNumber(h.subarray(124, 136));
    if (!meta && paxSize !== undefined) size = paxSize;
    if (type === 'x') {
      const m = /(?:^|\n)\d+ size=(\d+)\n/.exec(buf.subarray(off + 512, off + 512 + size).toString('latin1'));
      paxSize = m ? Number(m[1]) : undefined;
    } else if (!meta) {
      paxSize = undefined;
    }
    if (!meta && type !== '1' && type !== '2' && h[157] !== 0) {
      out ??= Buffer.from(buf);
      const hh = out.subarray(off, off + 512);
      hh.fill(0, 157, 257);
      hh.fill(0x20, 148, 156);
      let sum = 0;
      for (const b of hh) sum += b;
      hh.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
    }
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return out ?? buf;
}

/** Reads every entry of a tar held in memory; the callback also gets file contents. */
function readTar(tar: Buffer, onEntry: (e: ReadEntry, body: Buffer | null) => void): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const parser = new Parser({
      strict: true,
      onReadEntry: (e: ReadEntry) => {
        const chunks: Buffer[] = [];
        e.on('data', (c: Buffer) => chunks.push(c));
        e.on('end', () => {
          try {
            onEntry(e, e.type === 'File' || e.type === 'OldFile' || e.type === 'ContiguousFile' ? Buffer.concat(chunks) : null);
          } catch (err) {
            reject(err as Error);
          }
        });
      },
    });
    parser.on('error', reject);
    parser.on('end', () => resolvePromise());
    Readable.from([sanitizeTar(tar)]).pipe(parser);
  });
}

/** Runs docker with stdout collected as a Buffer; rejects on a non-zero exit. */
function dockerBuffer(dockerd: Dockerd, args: string[]): Promise<Buffer> {
  const child = dockerd.spawn(args);
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout!.on('data', (b: Buffer) => out.push(b));
  child.stderr!.on('data', (b: Buffer) => err.push(b));
  return new Promise((resolvePromise, reject) => {
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolvePromise(Buffer.concat(out))
        : reject(new Error(`docker ${args.join(' ')} exited with ${code}: ${Buffer.concat(err).toString().trim()}`)),
    );
  });
}

function toEntry(e: ReadEntry, body: Buffer | null): TreeEntry | undefined {
  const type = TYPES[e.type];
  const path = normPath(e.path);
  if (!type || path === '') return undefined;
  return {
    path,
    type,
    mode: octal(e.mode ?? 0),
    uid: e.uid ?? 0,
    gid: e.gid ?? 0,
    size: body ? body.length : 0,
    sha256: body ? createHash('sha256').update(body).digest('hex') : null,
    linkTarget: type === 'symlink' ? (e.linkpath ?? '') : type === 'hardlink' ? normPath(e.linkpath ?? '') : null,
    mtime: e.mtime ? Math.floor(e.mtime.getTime() / 1000) : 0,
  };
}

/** Adds an entry; a hardlink takes its content, mode and owner from the entry it points to now. */
function put(map: Map<string, TreeEntry>, t: TreeEntry): void {
  if (t.type === 'hardlink' && t.linkTarget) {
    const target = map.get(t.linkTarget);
    if (target && (target.type === 'file' || target.type === 'hardlink')) {
      const root = target.type === 'hardlink' && target.linkTarget ? target.linkTarget : target.path;
      t = { ...target, path: t.path, type: 'hardlink', linkTarget: root, mtime: t.mtime };
    }
  }
  map.set(t.path, t);
}

/**
 * Makes hardlinks canonical and returns the entries sorted by path. Which member of a group of
 * hardlinked paths a tar stores as the file depends on the writer's order, so: in each group the
 * smallest path is a 'file' and the others are 'hardlink' with linkTarget = that path. A hardlink
 * whose target is gone (deleted by a later layer) is a plain 'file'.
 */
function finish(map: Map<string, TreeEntry>): TreeEntry[] {
  const groups = new Map<string, string[]>();
  for (const e of map.values()) {
    if (e.type !== 'hardlink') continue;
    const root = e.linkTarget ? map.get(e.linkTarget) : undefined;
    if (!root || root.type !== 'file' || root.sha256 !== e.sha256) {
      map.set(e.path, { ...e, type: 'file', linkTarget: null });
      continue;
    }
    const g = groups.get(root.path) ?? [root.path];
    g.push(e.path);
    groups.set(root.path, g);
  }
  for (const [rootPath, members] of groups) {
    const root = map.get(rootPath)!;
    members.sort();
    const canon = members[0]!;
    for (const m of members) {
      const mtime = map.get(m)!.mtime;
      map.set(m, { ...root, path: m, mtime, type: m === canon ? 'file' : 'hardlink', linkTarget: m === canon ? null : canon });
    }
  }
  return [...map.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * diffTrees `ignore` list for the paths `docker export` never shows (see isDockerInjected): use it
 * when comparing a 'layers' tree with an 'export' tree, or two 'layers' trees where one image has
 * RUN layers (BuildKit's RUN layers contain its mount points /dev, /proc, /sys as empty dirs).
 */
export const DOCKER_INJECTED_IGNORE: string[] = ['/.dockerenv', '/etc/hostname', '/etc/hosts', '/etc/resolv.conf', '/dev/', '/proc/', '/sys/'];

/** Paths docker's init layer injects into every container (see the file comment). */
export function isDockerInjected(e: Pick<TreeEntry, 'path' | 'type' | 'linkTarget'>): boolean {
  const p = e.path;
  if (p === '/.dockerenv' || p === '/etc/hostname' || p === '/etc/hosts' || p === '/etc/resolv.conf') return true;
  if (p === '/etc/mtab' && e.type === 'symlink' && e.linkTarget === '/proc/mounts') return true;
  for (const d of ['/dev', '/proc', '/sys']) if (p === d || p.startsWith(d + '/')) return true;
  return false;
}

/** The file tree of a container made from the image, minus what docker injects. */
export async function exportTree(dockerd: Dockerd, image: string): Promise<TreeEntry[]> {
  // A command is given so that images with neither CMD nor ENTRYPOINT can be created; nothing runs.
  const id = (await dockerd.dockerOk(['create', '--network=none', image, '/kiln-never-run'])).trim();
  try {
    const map = new Map<string, TreeEntry>();
    await readTar(await dockerBuffer(dockerd, ['export', id]), (e, body) => {
      const t = toEntry(e, body);
      if (t && !isDockerInjected(t)) put(map, t);
    });
    return finish(map);
  } finally {
    await dockerd.docker(['rm', '-f', id]);
  }
}

/** The image's own filesystem: `docker save`, then its layers applied in order with whiteouts. */
export async function layersTree(dockerd: Dockerd, image: string): Promise<TreeEntry[]> {
  const files = new Map<string, Buffer>();
  // docker save stores a layer that occurs twice in an image (e.g. two RUNs with empty diffs) once,
  // and the second layer.tar as a symlink to the first.
  const links = new Map<string, string>();
  await readTar(await dockerBuffer(dockerd, ['save', image]), (e, body) => {
    const p = normPath(e.path).slice(1);
    if (body) files.set(p, body);
    else if (e.type === 'SymbolicLink' && e.linkpath) links.set(p, normPath(posix.join('/', posix.dirname(p), e.linkpath)).slice(1));
  });
  for (const [p, target] of links) {
    const body = files.get(target);
    if (body && !files.has(p)) files.set(p, body);
  }
  const manifest = JSON.parse(files.get('manifest.json')?.toString('utf8') ?? 'null') as { Layers: string[] }[] | null;
  if (!manifest?.[0]) throw new Error(`docker save ${image}: no manifest.json`);
  const map = new Map<string, TreeEntry>();
  for (const layerPath of manifest[0].Layers) {
    const layer = files.get(normPath(layerPath).slice(1));
    if (!layer) throw new Error(`docker save ${image}: layer ${layerPath} missing`);
    // An empty layer (e.g. WORKDIR of an existing dir) may be saved as a tar with no blocks at all.
    if (layer.every((b) => b === 0)) continue;
    const added: TreeEntry[] = [];
    const removed: string[] = [];
    const opaque: string[] = [];
    await readTar(layer, (e, body) => {
      const p = normPath(e.path);
      const base = p.slice(p.lastIndexOf('/') + 1);
      const dir = p.slice(0, p.lastIndexOf('/'));
      if (base === '.wh..wh..opq') opaque.push(dir);
      else if (base.startsWith('.wh.')) removed.push(`${dir}/${base.slice(4)}`);
      else {
        const t = toEntry(e, body);
        if (t) added.push(t);
      }
    });
    // Whiteouts apply to the layers below, so remove first, then add this layer's entries.
    const drop = (prefix: string, self: boolean): void => {
      for (const k of [...map.keys()]) if ((self && k === prefix) || k.startsWith(prefix + '/')) map.delete(k);
    };
    for (const r of removed) drop(r, true);
    for (const o of opaque) drop(o, false);
    for (const t of added) {
      const prev = map.get(t.path);
      // A non-directory replacing a directory hides everything below it.
      if (prev?.type === 'dir' && t.type !== 'dir') drop(t.path, false);
      put(map, t);
    }
  }
  return finish(map);
}

/** The file tree of an image, sorted by path. */
export function imageTree(dockerd: Dockerd, image: string, source: TreeSource = 'export'): Promise<TreeEntry[]> {
  return source === 'export' ? exportTree(dockerd, image) : layersTree(dockerd, image);
}

export interface DiffTreesOptions {
  /** Names for the two sides in messages (default A, B). */
  labels?: [string, string];
  /** Also compare mtimes (off by default: they differ between any two docker builds). */
  mtime?: boolean;
  /** Paths to leave out (exact path or everything below a path ending in '/', or a RegExp). */
  ignore?: (string | RegExp)[];
}

function describeEntry(e: TreeEntry): string {
  const what = e.type === 'file' ? `file ${e.size}B` : e.type === 'symlink' ? `symlink -> ${e.linkTarget}` : e.type === 'hardlink' ? `hardlink -> ${e.linkTarget}` : e.type;
  return `${what} ${e.mode} ${e.uid}:${e.gid}`;
}

function ignored(path: string, ignore: (string | RegExp)[] | undefined): boolean {
  if (!ignore) return false;
  return ignore.some((i) => (typeof i === 'string' ? (i.endsWith('/') ? path.startsWith(i) || path === i.slice(0, -1) : path === i) : i.test(path)));
}

/** Readable differences between two trees, one line per difference, in path order. */
export function diffTrees(a: TreeEntry[], b: TreeEntry[], opts: DiffTreesOptions = {}): string[] {
  const [la, lb] = opts.labels ?? ['A', 'B'];
  const ma = new Map(a.map((e) => [e.path, e]));
  const mb = new Map(b.map((e) => [e.path, e]));
  const paths = [...new Set([...ma.keys(), ...mb.keys()])].sort();
  const out: string[] = [];
  for (const p of paths) {
    if (ignored(p, opts.ignore)) continue;
    const x = ma.get(p);
    const y = mb.get(p);
    if (!x) {
      out.push(`${p}: only in ${lb} (${describeEntry(y!)})`);
      continue;
    }
    if (!y) {
      out.push(`${p}: only in ${la} (${describeEntry(x)})`);
      continue;
    }
    const d: string[] = [];
    if (x.type !== y.type) d.push(`type ${x.type} vs ${y.type}`);
    if (x.mode !== y.mode) d.push(`mode ${x.mode} vs ${y.mode}`);
    if (x.uid !== y.uid || x.gid !== y.gid) d.push(`owner ${x.uid}:${x.gid} vs ${y.uid}:${y.gid}`);
    if (x.size !== y.size) d.push(`size ${x.size} vs ${y.size}`);
    else if (x.sha256 !== y.sha256) d.push(`content differs (sha256 ${x.sha256?.slice(0, 12)} vs ${y.sha256?.slice(0, 12)})`);
    if (x.linkTarget !== y.linkTarget) d.push(`link target ${JSON.stringify(x.linkTarget)} vs ${JSON.stringify(y.linkTarget)}`);
    if (opts.mtime && x.mtime !== y.mtime) d.push(`mtime ${x.mtime} vs ${y.mtime}`);
    if (d.length) out.push(`${p}: ${d.join(', ')} (${la} vs ${lb})`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Whole images

export interface CompareOptions {
  tree?: TreeSource;
  /** Config fields to leave out (e.g. ['LayerCount']). */
  ignoreConfig?: (keyof NormalizedConfig)[];
  ignorePaths?: (string | RegExp)[];
  mtime?: boolean;
  labels?: [string, string];
}

export interface ImageComparison {
  configDiff: string[];
  treeDiff: string[];
  /** What was compared, for further checks or failure messages. */
  a: { config: NormalizedConfig; tree: TreeEntry[] };
  b: { config: NormalizedConfig; tree: TreeEntry[] };
}

/** Compares two images in the test dockerd: normalized configs and file trees. Empty lists = same. */
export async function compareImages(dockerd: Dockerd, imageA: string, imageB: string, opts: CompareOptions = {}): Promise<ImageComparison> {
  const labels = opts.labels ?? [imageA, imageB];
  const [ca, cb, ta, tb] = await Promise.all([
    imageConfig(dockerd, imageA),
    imageConfig(dockerd, imageB),
    imageTree(dockerd, imageA, opts.tree),
    imageTree(dockerd, imageB, opts.tree),
  ]);
  return {
    configDiff: diffConfigs(ca, cb, { ignore: opts.ignoreConfig, labels }),
    treeDiff: diffTrees(ta, tb, { labels, ignore: opts.ignorePaths, mtime: opts.mtime }),
    a: { config: ca, tree: ta },
    b: { config: cb, tree: tb },
  };
}

/** A compact listing of a tree, one line per entry (for failure messages and debugging). */
export function formatTree(tree: TreeEntry[]): string {
  return tree.map((e) => `${e.path} ${describeEntry(e)}${e.sha256 ? ' ' + e.sha256.slice(0, 12) : ''}`).join('\n');
}
