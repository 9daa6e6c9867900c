/**
 * Differential test against the real thing: every corpus case is built with `docker build`
 * (BuildKit, in a private dockerd) and with `kiln build --output type=docker`, the Kiln archive is
 * `docker load`ed, and the two images must have equal config (Env, Cmd, Entrypoint, WorkingDir,
 * User, Labels, ExposedPorts, Volumes, StopSignal, Healthcheck, Shell, OnBuild, ...) and equal
 * file trees (path, type, mode, uid, gid, size, content, link target; mtimes aside) as a runtime
 * sees them: `docker create` + `docker export` of each, so a layer that dockerd's overlay2 unpacks
 * differently from what Kiln meant (a missing ancestor directory, say) shows up. Then the
 * Kiln image is run with `docker run` to show it starts and runs its CMD.
 *
 * KILN_HARNESS_CASES=<regexp> runs only matching cases.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { DEBIAN_IMAGE, DEBIAN_ROOTFS, makeBaseImages, makeDebianImage } from '../helpers/base-images.js';
import { describeWithDocker, dockerBuild, dockerLoad, useDockerd, type Dockerd } from '../helpers/dockerd.js';
import { compareImages } from '../helpers/image-tree.js';
import { decide, haveNow } from '../helpers/requirements.js';
import { listCases, materializeCase, type MaterializedCase } from './corpus/corpus.js';
import { kiln } from './kiln-helpers.js';

const filter = process.env.KILN_HARNESS_CASES ? new RegExp(process.env.KILN_HARNESS_CASES) : undefined;
const cases = listCases().filter((c) => !filter || filter.test(basename(c)));

/** Cases built on kiln-test/debian:bookworm (named in any of their files) need the cached Debian rootfs. */
const [debianRepo] = DEBIAN_IMAGE.split(':') as [string];
const usesDebian = (caseDir: string): boolean =>
  readdirSync(caseDir, { withFileTypes: true }).some((f) => f.isFile() && readFileSync(join(caseDir, f.name), 'utf8').includes(debianRepo));
const NEEDS_DEBIAN = 'needs the Debian rootfs';

async function kilnBuild(store: string, c: MaterializedCase, o: { dockerfile: string; tag: string; buildArgs?: Record<string, string>; target?: string }, archive?: string): Promise<void> {
  const args = ['build', '--store', store, '-q', '-f', o.dockerfile, '-t', o.tag];
  for (const [k, v] of Object.entries(o.buildArgs ?? {})) args.push('--build-arg', `${k}=${v}`);
  if (o.target) args.push('--target', o.target);
  if (archive) args.push('--output', `type=docker,dest=${archive}`);
  const r = await kiln([...args, c.contextDir]);
  if (r.code !== 0) throw new Error(`kiln build of ${c.name} (${o.tag}) failed:\n${r.stderr}`);
}

async function dockerSide(d: Dockerd, c: MaterializedCase, tag: string): Promise<void> {
  for (const p of c.prebuild) {
    const r = await dockerBuild(d, { contextDir: c.contextDir, dockerfile: p.dockerfile, tag: p.tag, buildArgs: p.buildArgs, target: p.target });
    if (r.code !== 0) throw new Error(`docker prebuild ${p.tag} failed:\n${r.stderr}`);
  }
  const dockerfile = c.dockerDockerfile ?? c.dockerfile;
  const r = await dockerBuild(d, { contextDir: c.contextDir, dockerfile, tag, buildArgs: c.buildArgs, target: c.target });
  if (r.code !== 0) throw new Error(`docker build of ${c.name} failed:\n${r.stderr}`);
}

/** [] when docker's image has exactly `extra` more layers than Kiln's, else what differs. */
async function extraLayers(d: Dockerd, dockerTag: string, kilnTag: string, extra: number): Promise<string[]> {
  const count = async (tag: string) => Number((await d.docker(['image', 'inspect', '--format', '{{len .RootFS.Layers}}', tag])).stdout.trim());
  const [a, b] = [await count(dockerTag), await count(kilnTag)];
  return a - b === extra ? [] : [`layer count: docker=${a} kiln=${b}, expected docker to have ${extra} more`];
}

describeWithDocker('differential: kiln build vs docker build', () => {
  const env = useDockerd();
  let tmp: string;
  let store: string;
  const results = new Map<string, string[] | Error | typeof NEEDS_DEBIAN>();

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'kiln-diff-'));
    store = join(tmp, 'store');
    const base = await makeBaseImages(env.dockerd, join(tmp, 'base'));
    const loaded = await kiln(['load', '--store', store, '-q', '-i', base.busyboxArchive]);
    if (loaded.code !== 0) throw new Error(`kiln load of the base image failed: ${loaded.stderr}`);
    // Never build a Debian case without the image in the daemon: a missing FROM is pulled from Docker Hub.
    const withDebian = cases.some(usesDebian) && decide([DEBIAN_ROOTFS]).kind === 'run';
    if (withDebian) {
      const debian = await makeDebianImage(env.dockerd, join(tmp, 'base'));
      const l = await kiln(['load', '--store', store, '-q', '-i', debian.archive]);
      if (l.code !== 0) throw new Error(`kiln load of ${DEBIAN_IMAGE} failed: ${l.stderr}`);
    }
    for (const caseDir of cases) {
      const name = basename(caseDir);
      if (usesDebian(caseDir) && !withDebian) {
        results.set(name, NEEDS_DEBIAN);
        continue;
      }
      try {
        const c = materializeCase(caseDir, join(tmp, name));
        const dockerTag = `kiln-diff/${name}:docker`;
        const kilnTag = `kiln-diff/${name}:kiln`;
        await dockerSide(env.dockerd, c, dockerTag);
        for (const p of c.prebuild) await kilnBuild(store, c, p);
        const archive = join(tmp, `${name}.tar`);
        await kilnBuild(store, c, { dockerfile: c.dockerfile, tag: kilnTag, buildArgs: c.buildArgs, target: c.target }, archive);
        await dockerLoad(env.dockerd, archive);
        const cmp = await compareImages(env.dockerd, dockerTag, kilnTag, { tree: 'export', labels: ['docker', 'kiln'], ignoreConfig: c.dockerExtraLayers ? ['LayerCount'] : [] });
        const layerCounts = c.dockerExtraLayers ? await extraLayers(env.dockerd, dockerTag, kilnTag, c.dockerExtraLayers) : [];
        results.set(name, [...cmp.configDiff, ...layerCounts, ...cmp.treeDiff]);
      } catch (err) {
        results.set(name, err as Error);
      }
    }
  }, 900_000);

  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    const same = [...results.values()].filter((r) => Array.isArray(r) && r.length === 0).length;
    console.log(`differential: ${same}/${cases.length} corpus cases give the same config and file tree with kiln and docker`);
  });

  it('covers at least 15 Dockerfiles', () => {
    expect(cases.length + (filter ? 15 : 0)).toBeGreaterThanOrEqual(15);
  });

  it.each(cases.map((c) => basename(c)))('%s: same config and files as docker build', (name) => {
    const r = results.get(name);
    // Fails (or, with KILN_SKIP_MISSING_TOOLS=1 and no CI, skips and lists) when the rootfs is missing.
    if (r === NEEDS_DEBIAN && !haveNow([DEBIAN_ROOTFS], name)) return;
    if (r instanceof Error) throw r;
    expect(r).toEqual([]);
  });

  it('docker runs what kiln built, RUN layers included', async () => {
    const ctx = mkdtempSync(join(tmp, 'run-'));
    const { writeFileSync } = await import('node:fs');
    writeFileSync(
      join(ctx, 'Dockerfile'),
      'FROM kiln-test/busybox:latest\nCOPY hello.txt /srv/\nWORKDIR /srv\nRUN echo "and from its RUN" >> hello.txt\nCMD ["cat", "hello.txt"]\n',
    );
    writeFileSync(join(ctx, 'hello.txt'), 'hello from a kiln image\n');
    const archive = join(tmp, 'run.tar');
    const r = await kiln(['build', '--store', store, '-q', '-t', 'kiln-diff/run:1', '--output', `type=docker,dest=${archive}`, ctx]);
    expect(r.code).toBe(0);
    await dockerLoad(env.dockerd, archive);
    const run = await env.dockerd.docker(['run', '--rm', '--network=none', 'kiln-diff/run:1']);
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe('hello from a kiln image\nand from its RUN\n');
  });
});
