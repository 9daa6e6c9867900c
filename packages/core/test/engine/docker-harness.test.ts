/**
 * Validates the differential-test harness docker-vs-docker: every corpus case is built twice with
 * `docker build` (two materializations of the context, the second with --no-cache) in a private
 * dockerd, and the two images must have the same normalized config and file tree. This proves the
 * corpus builds with docker here and that the comparison ignores what legitimately differs
 * between two builds (timestamps, IDs). It also checks that the `docker export` tree, minus what
 * docker injects, equals the tree from applying the saved layers.
 *
 * It checks the test harness, not Kiln, so it is opt-in: KILN_HARNESS_TESTS=1 runs it (with a
 * dockerd of its own: it builds the corpus's prebuild tags, which differential.test.ts builds too).
 *
 * KILN_HARNESS_DUMP=<dir> writes each case's normalized config and tree to <dir>/<case>.json;
 * KILN_HARNESS_CASES=<regexp> runs only the matching cases; KILN_HARNESS_CONCURRENCY (default 3).
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { DEBIAN_IMAGE, DEBIAN_ROOTFS, makeBaseImages, makeDebianImage } from '../helpers/base-images.js';
import { describeWithDocker, dockerBuild, useDockerd, type Dockerd } from '../helpers/dockerd.js';
import { compareImages, DOCKER_INJECTED_IGNORE, diffConfigs, diffTrees, exportTree, imageConfig, layersTree, normalizeInspect, type TreeEntry } from '../helpers/image-tree.js';
import { decide, haveNow, optIn } from '../helpers/requirements.js';
import { listCases, materializeCase, type MaterializedCase } from './corpus/corpus.js';

const allCases = listCases();
/** KILN_HARNESS_CASES=<regexp> limits the run to matching case names (the corpus-size check still counts all). */
const caseFilter = process.env.KILN_HARNESS_CASES ? new RegExp(process.env.KILN_HARNESS_CASES) : undefined;
const cases = caseFilter ? allCases.filter((c) => caseFilter.test(basename(c))) : allCases;

/** Cases built on kiln-test/debian:bookworm (named in any of their files) need the cached Debian rootfs. */
const [debianRepo] = DEBIAN_IMAGE.split(':') as [string];
const usesDebian = (caseDir: string): boolean =>
  readdirSync(caseDir, { withFileTypes: true }).some((f) => f.isFile() && readFileSync(join(caseDir, f.name), 'utf8').includes(debianRepo));

async function buildCase(dockerd: Dockerd, c: MaterializedCase, tag: string, noCache: boolean): Promise<void> {
  for (const p of c.prebuild) {
    const r = await dockerBuild(dockerd, { contextDir: c.contextDir, dockerfile: p.dockerfile, tag: p.tag, buildArgs: p.buildArgs, target: p.target, noCache });
    if (r.code !== 0) throw new Error(`prebuild ${p.tag} of ${c.name} failed:\n${r.stderr}`);
  }
  const dockerfile = c.dockerDockerfile ?? c.dockerfile;
  const r = await dockerBuild(dockerd, { contextDir: c.contextDir, dockerfile, tag, buildArgs: c.buildArgs, target: c.target, noCache });
  if (r.code !== 0) throw new Error(`docker build of ${c.name} failed:\n${r.stderr}`);
}

interface CaseOutcome {
  error?: Error;
  diffs: string[];
  exportVsLayers: string[];
  ms: number;
}

/** Builds one case twice and compares; never throws (the outcome carries the error). */
async function runCase(d: Dockerd, caseDir: string, tmp: string): Promise<CaseOutcome> {
  const t0 = Date.now();
  const name = basename(caseDir);
  const tagA = `kiln-test/case-${name}:a`;
  const tagB = `kiln-test/case-${name}:b`;
  try {
    const c1 = materializeCase(caseDir, join(tmp, 'ctx1'));
    const c2 = materializeCase(caseDir, join(tmp, 'ctx2'));
    await buildCase(d, c1, tagA, false);
    await buildCase(d, c2, tagB, true);
    // A vs B from the saved layers (no containers: cheaper), then A's `docker export` tree (minus
    // docker's injections) against its layers. The one known gap: without /etc in the image,
    // docker's init layer makes one, indistinguishable from a real one.
    const cmp = await compareImages(d, tagA, tagB, { tree: 'layers' });
    const layered = cmp.a.tree;
    const exported = await exportTree(d, tagA);
    // BuildKit's RUN layers hold its mount points (/dev, /proc, /sys), which export hides.
    const ignore = [...(layered.some((e) => e.path === '/etc') ? [] : ['/etc']), ...DOCKER_INJECTED_IGNORE];
    const exportVsLayers = diffTrees(exported, layered, { labels: ['export', 'layers'], ignore });
    if (process.env.KILN_HARNESS_DUMP) {
      mkdirSync(process.env.KILN_HARNESS_DUMP, { recursive: true });
      const dump = { case: name, description: c1.description, config: cmp.a.config, tree: layered };
      writeFileSync(join(process.env.KILN_HARNESS_DUMP, `${name}.json`), JSON.stringify(dump, null, 1) + '\n');
    }
    return { diffs: [...cmp.configDiff, ...cmp.treeDiff], exportVsLayers, ms: Date.now() - t0 };
  } catch (e) {
    return { error: e as Error, diffs: [], exportVsLayers: [], ms: Date.now() - t0 };
  }
}

/** Runs fn over items with at most `limit` in flight. */
async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** Cases built at once: docker builds are mostly waiting, but this machine has 2 cores. */
const CONCURRENCY = Number(process.env.KILN_HARNESS_CONCURRENCY ?? 3);

describeWithDocker('differential harness (docker vs docker)', () => {
  const env = useDockerd({ private: true });
  let tmp: string;
  const outcomes = new Map<string, CaseOutcome>();
  const started = Date.now();

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'kiln-harness-'));
    await makeBaseImages(env.dockerd, join(tmp, 'base'));
    // Never build a Debian case without the image in the daemon: a missing FROM is pulled from Docker Hub.
    const withDebian = cases.some(usesDebian) && decide([DEBIAN_ROOTFS]).kind === 'run';
    if (withDebian) await makeDebianImage(env.dockerd, join(tmp, 'base'));
    await pool(cases.filter((c) => withDebian || !usesDebian(c)), CONCURRENCY, async (c) => {
      outcomes.set(basename(c), await runCase(env.dockerd, c, tmp));
    });
  }, 600_000);

  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    const ok = [...outcomes.values()].filter((o) => !o.error && !o.diffs.length && !o.exportVsLayers.length).length;
    const slowest = [...outcomes.entries()].sort((a, b) => b[1].ms - a[1].ms)[0];
    console.log(
      `docker harness: ${ok}/${cases.length} corpus cases built twice with docker and identical ` +
        `(${((Date.now() - started) / 1000).toFixed(1)} s, concurrency ${CONCURRENCY}` +
        (slowest ? `, slowest ${slowest[0]} ${(slowest[1].ms / 1000).toFixed(1)} s)` : ')'),
    );
  });

  it('has a corpus of at least 16 cases', () => {
    expect(allCases.length).toBeGreaterThanOrEqual(16);
  });

  it('makes base images idempotently', async () => {
    const first = await makeBaseImages(env.dockerd, join(tmp, 'base'));
    const again = await makeBaseImages(env.dockerd, join(tmp, 'base'));
    expect(again).toEqual(first);
    const cfg = await imageConfig(env.dockerd, again.busybox);
    expect(cfg.Cmd).toEqual(['sh']);
    const tree = await layersTree(env.dockerd, again.busybox);
    const byPath = new Map(tree.map((e) => [e.path, e]));
    expect(byPath.get('/bin/busybox')).toMatchObject({ type: 'file', mode: '0755', uid: 0, gid: 0 });
    expect(byPath.get('/bin/sh')).toMatchObject({ type: 'symlink', linkTarget: 'busybox' });
    expect(byPath.get('/home/app')).toMatchObject({ type: 'dir', uid: 1000, gid: 1000 });
    expect(byPath.get('/tmp')).toMatchObject({ type: 'dir', mode: '1777' });
    // The saved archive loads back as the same image.
    const loaded = await env.dockerd.dockerOk(['load', '-i', again.busyboxArchive]);
    expect(loaded).toContain(again.busybox);
  });

  it('reports differences in config and tree', async () => {
    if (!['copy-chown-chmod', 'entrypoint-resets-cmd', 'cmd-after-entrypoint'].every((n) => outcomes.has(n))) return;
    const cmp = await compareImages(env.dockerd, 'kiln-test/busybox:latest', 'kiln-test/case-copy-chown-chmod:a', { labels: ['base', 'case'] });
    expect(cmp.treeDiff).toContain('/chmod-600.txt: only in case (file 6B 0600 0:0)');
    expect(cmp.configDiff).toContain('config LayerCount: base=1 case=13');
    const cfg = await compareImages(env.dockerd, 'kiln-test/case-entrypoint-resets-cmd:a', 'kiln-test/case-cmd-after-entrypoint:a');
    expect(cfg.treeDiff).toEqual([]);
    expect(cfg.configDiff).toEqual([
      'config Entrypoint: kiln-test/case-entrypoint-resets-cmd:a=["/bin/echo","hello"] kiln-test/case-cmd-after-entrypoint:a=["/bin/echo"]',
    ]);
  });

  it('applies whiteouts and opaque dirs like docker does (export tree == layers tree)', async () => {
    const ctx = join(tmp, 'whiteouts');
    mkdirSync(ctx, { recursive: true });
    writeFileSync(
      join(ctx, 'Dockerfile'),
      [
        'FROM kiln-test/busybox',
        'RUN mkdir -p /d/sub /opq && echo x > /d/sub/f && echo y > /d/keep && echo z > /gone && echo 1 > /opq/a && ln -s keep /d/link',
        'RUN rm /gone /d/link && rm -rf /d/sub && rm -rf /opq && mkdir /opq && echo 2 > /opq/b && ln /d/keep /d/hard',
        '',
      ].join('\n'),
    );
    const r = await dockerBuild(env.dockerd, { contextDir: ctx, tag: 'kiln-test/whiteouts:latest' });
    expect(r.stderr).not.toMatch(/ERROR/);
    expect(r.code).toBe(0);
    const [exported, layered] = await Promise.all([exportTree(env.dockerd, 'kiln-test/whiteouts:latest'), layersTree(env.dockerd, 'kiln-test/whiteouts:latest')]);
    expect(diffTrees(exported, layered, { labels: ['export', 'layers'], ignore: DOCKER_INJECTED_IGNORE })).toEqual([]);
    // BuildKit's RUN layer holds its mount points; export hides them.
    expect(diffTrees(exported, layered, { labels: ['export', 'layers'] })).toEqual([
      '/dev: only in layers (dir 0755 0:0)',
      '/proc: only in layers (dir 0755 0:0)',
      '/sys: only in layers (dir 0755 0:0)',
    ]);
    const paths = layered.map((e) => e.path).filter((p) => /^\/(d|opq|gone)(\/|$)/.test(p));
    expect(paths).toEqual(['/d', '/d/hard', '/d/keep', '/opq', '/opq/b']);
    // Hardlinks are canonical: the smallest path is the file (docker's tar has /d/keep as the link).
    expect(layered.find((e) => e.path === '/d/hard')).toMatchObject({ type: 'file', linkTarget: null, size: 2 });
    expect(layered.find((e) => e.path === '/d/keep')).toMatchObject({ type: 'hardlink', linkTarget: '/d/hard', size: 2 });
  });

  it.each(cases.map((c) => basename(c)))('%s builds reproducibly with docker', (name) => {
    const o = outcomes.get(name);
    if (!o && usesDebian(cases.find((c) => basename(c) === name)!) && !haveNow([DEBIAN_ROOTFS], name)) return;
    expect(o).toBeDefined();
    if (o!.error) throw o!.error;
    expect(o!.diffs).toEqual([]);
    expect(o!.exportVsLayers).toEqual([]);
  });
}, [optIn('KILN_HARNESS_TESTS', 'docker-vs-docker check of the test harness')]);

describe('diffTrees and normalizeInspect (no docker needed)', () => {
  const f = (path: string, over: Partial<TreeEntry> = {}): TreeEntry => ({
    path, type: 'file', mode: '0644', uid: 0, gid: 0, size: 1, sha256: 'aa', linkTarget: null, mtime: 0, ...over,
  });
  it('lists each kind of difference readably', () => {
    const a = [f('/a'), f('/b'), f('/c'), f('/l', { type: 'symlink', size: 0, sha256: null, linkTarget: 'x' }), f('/only-a')];
    const b = [f('/a', { mode: '4755' }), f('/b', { uid: 1000, gid: 1000 }), f('/c', { sha256: 'bb' }), f('/l', { type: 'symlink', size: 0, sha256: null, linkTarget: 'y' }), f('/z', { mtime: 5 })];
    expect(diffTrees(a, b, { labels: ['docker', 'kiln'] })).toEqual([
      '/a: mode 0644 vs 4755 (docker vs kiln)',
      '/b: owner 0:0 vs 1000:1000 (docker vs kiln)',
      '/c: content differs (sha256 aa vs bb) (docker vs kiln)',
      '/l: link target "x" vs "y" (docker vs kiln)',
      '/only-a: only in docker (file 1B 0644 0:0)',
      '/z: only in kiln (file 1B 0644 0:0)',
    ]);
    expect(diffTrees([f('/m')], [f('/m', { mtime: 9 })])).toEqual([]);
    expect(diffTrees([f('/m')], [f('/m', { mtime: 9 })], { mtime: true })).toEqual(['/m: mtime 0 vs 9 (A vs B)']);
    expect(diffTrees([f('/x/y')], [], { ignore: ['/x/'] })).toEqual([]);
  });
  it('maps null, absent and empty consistently', () => {
    const n1 = normalizeInspect({ Config: { Env: null, Labels: null, ExposedPorts: null, Cmd: null, OnBuild: null }, RootFS: { Layers: ['x'] } });
    const n2 = normalizeInspect({ Config: { Env: [], Labels: {}, ExposedPorts: {}, Volumes: {} }, RootFS: { Layers: ['y'] } });
    expect(diffConfigs(n1, n2)).toEqual([]);
    const n3 = normalizeInspect({ Config: { Cmd: [] } });
    expect(diffConfigs(n1, n3)).toEqual(['config Cmd: A=null B=[]', 'config LayerCount: A=1 B=0']);
    expect(normalizeInspect({ Config: { ExposedPorts: { '80/tcp': {}, '53/udp': {} }, Healthcheck: { Test: ['NONE'] } } })).toMatchObject({
      ExposedPorts: ['53/udp', '80/tcp'],
      Healthcheck: { Test: ['NONE'], Interval: 0, Timeout: 0, StartPeriod: 0, Retries: 0 },
    });
  });
});
