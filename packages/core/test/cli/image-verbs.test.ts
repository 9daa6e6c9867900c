/**
 * Docker's image verbs over the Kiln store, through the real binary, compared with what `docker`
 * prints for the same images in the dockerd the tests start: images (columns, filters, --format),
 * inspect (the fields Kiln can know), history, tag, rmi; the prunes and system df against `du`;
 * and prune running while builds write to the same store.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeBaseImages, type BaseImages } from '../helpers/base-images.js';
import { describeWithDocker, useDockerd } from '../helpers/dockerd.js';
import { kilnBin, kilnProcess, tempDir, writeTree } from '../engine/kiln-helpers.js';

describeWithDocker('image verbs, compared with docker', () => {
  const env = useDockerd();
  let work: string;
  let store: string;
  let base: BaseImages;
  /** The real binary on the test's store (options may follow the operands, as docker's). */
  const kiln = (...args: string[]) => kilnProcess([...args, '--store', store], work, { KILN_OFFLINE: '1' });
  const d = (...args: string[]) => env.dockerd.docker(args);

  /** Every blob an image of the store needs is there (read from the store's files). */
  const imageIsWhole = (tag: string): boolean => {
    const refs = readdirSync(join(store, 'refs')).map((n) => JSON.parse(readFileSync(join(store, 'refs', n), 'utf8')) as { ref: string; digest: string });
    const ref = refs.find((r) => r.ref === `docker.io/library/${tag}`);
    if (!ref) return true; // pruned after its build: nothing to check
    const blob = (digest: string) => join(store, 'blobs/sha256', digest.slice(7));
    const manifest = JSON.parse(readFileSync(blob(ref.digest), 'utf8')) as { config: { digest: string }; layers: { digest: string }[] };
    return [manifest.config, ...manifest.layers].every((d) => existsSync(blob(d.digest)));
  };

  beforeAll(async () => {
    work = tempDir('image-verbs');
    store = join(work, 'store');
    base = await makeBaseImages(env.dockerd, join(work, 'base'));
    const loaded = await kiln('load', '-q', '-i', base.busyboxArchive);
    if (loaded.code !== 0) throw new Error(loaded.stderr);
  }, 120_000);

  it('images: docker\'s columns, the same repositories and tags, and --format fields', async () => {
    const ours = await kiln('images');
    expect(ours.code).toBe(0);
    const theirs = await d('images');
    const header = (text: string) => text.split('\n')[0]!.split(/\s{2,}/);
    expect(header(ours.stdout)).toEqual(header(theirs.stdout));
    const rows = (text: string) => text.trim().split('\n').sort();
    // (CREATED counts from now: the two commands run a moment apart, so CreatedAt is compared.)
    const fmt = '{{.Repository}}|{{.Tag}}|{{.ID}}|{{.CreatedAt}}|{{.Digest}}';
    expect(rows((await kiln('images', '--format', fmt, 'kiln-test/busybox')).stdout)).toEqual(rows((await d('images', '--format', fmt, 'kiln-test/busybox')).stdout));
    const keys = (text: string) => Object.keys(JSON.parse(text.trim().split('\n')[0]!)).sort();
    expect(keys((await kiln('images', '--format', '{{json .}}')).stdout)).toEqual(keys((await d('images', '--format', '{{json .}}')).stdout));
    // -q and --no-trunc print the IDs docker prints.
    expect((await kiln('images', '-q', '--no-trunc', 'kiln-test/busybox')).stdout).toBe((await d('images', '-q', '--no-trunc', 'kiln-test/busybox')).stdout);
  }, 60_000);

  it('inspect: the fields Kiln knows are docker\'s; an unknown image says so and exits 1', async () => {
    const ours = JSON.parse((await kiln('inspect', base.busybox)).stdout)[0];
    const theirs = JSON.parse((await d('image', 'inspect', base.busybox)).stdout)[0];
    for (const field of ['Id', 'RepoTags', 'Created', 'Architecture', 'Os', 'RootFS', 'Author', 'Comment']) expect([field, ours[field]]).toEqual([field, theirs[field]]);
    for (const field of ['Env', 'Cmd', 'WorkingDir', 'Entrypoint', 'User', 'Labels', 'Volumes', 'OnBuild']) {
      expect([field, ours.Config[field]]).toEqual([field, theirs.Config[field]]);
    }
    // Layers stored as tar (headers, padding) versus docker's sum of file sizes: close, not equal.
    expect(Math.abs(ours.Size - theirs.Size) / theirs.Size).toBeLessThan(0.1);
    const fmt = '{{.Id}} {{.Os}}/{{.Architecture}} {{json .Config.Cmd}}';
    expect((await kiln('image', 'inspect', '--format', fmt, base.busybox)).stdout).toBe((await d('image', 'inspect', '--format', fmt, base.busybox)).stdout);
    // A short ID works as docker's.
    expect(JSON.parse((await kiln('inspect', base.busyboxId.slice(7, 19))).stdout)[0].Id).toBe(base.busyboxId);
    const missing = await kiln('inspect', 'no-such-image:1');
    expect(missing.code).toBe(1);
    expect(missing.stdout).toBe('[]\n');
    expect(missing.stderr).toMatch(/^Error: No such image: no-such-image:1 \(`kiln images` lists the images in the store\)\n$/);
  }, 60_000);

  it('history: docker\'s rows for the same image (<missing> below the image itself)', async () => {
    const fmt = '{{.ID}}|{{.CreatedBy}}|{{.Comment}}';
    expect((await kiln('history', '--no-trunc', '--format', fmt, base.busybox)).stdout).toBe((await d('history', '--no-trunc', '--format', fmt, base.busybox)).stdout);
    const header = (text: string) => text.split('\n')[0]!.split(/\s{2,}/);
    expect(header((await kiln('history', base.busybox)).stdout)).toEqual(header((await d('history', base.busybox)).stdout));
    expect((await kiln('history', '-q', base.busybox)).stdout).toBe((await d('history', '-q', base.busybox)).stdout);
  }, 60_000);

  it('tag and rmi: the same lines as docker, and the image goes with its last tag', async () => {
    for (const run of [kiln, (...a: string[]) => d(...a)]) {
      expect((await run('tag', base.busybox, 'verbs-tag:1')).stdout).toBe('');
      expect((await run('tag', 'verbs-tag:1', 'verbs-tag:2')).stdout).toBe('');
    }
    expect((await kiln('rmi', 'verbs-tag:2')).stdout).toBe((await d('rmi', 'verbs-tag:2')).stdout);
    expect((await kiln('rmi', 'verbs-tag:1')).stdout).toBe('Untagged: verbs-tag:1\n');
    expect((await d('rmi', 'verbs-tag:1')).stdout).toBe('Untagged: verbs-tag:1\n');
    const gone = await kiln('rmi', 'verbs-tag:1');
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/No such image: verbs-tag:1/);

    // An untagged build is listed as <none>, and rmi by ID deletes it and its own blobs.
    const ctx = writeTree(tempDir('verbs-untagged'), { Dockerfile: `FROM ${base.busybox}\nCOPY f /f\n`, f: 'x'.repeat(100_000) });
    const built = await kiln('build', '-q', ctx);
    const id = built.stdout.trim();
    expect((await kiln('images', '--filter', 'dangling=true', '-q', '--no-trunc')).stdout).toContain(id);
    const blobsBefore = readdirSync(join(store, 'blobs/sha256')).length;
    const rmi = await kiln('rmi', id.slice(7, 19));
    expect(rmi.stdout).toBe(`Deleted: ${id}\n`);
    // The build cache still holds the COPY layer; the config and manifest went.
    expect(readdirSync(join(store, 'blobs/sha256')).length).toBe(blobsBefore - 2);
  }, 60_000);

  it('image prune, builder prune and system df: sizes match what leaves the disk and du', async () => {
    const ctx = writeTree(tempDir('verbs-prune'), { Dockerfile: `FROM ${base.busybox}\nCOPY big /big\n`, big: 'y'.repeat(3_000_000) });
    expect((await kiln('build', '-q', ctx)).code).toBe(0);
    const du = () => Number(spawnSync('du', ['-sb', join(store, 'blobs')], { encoding: 'utf8' }).stdout.split('\t')[0]);
    const df = await kiln('system', 'df', '--format', '{{json .}}');
    const dfRows = df.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
    expect(dfRows.map((r) => r['Type'])).toEqual(['Images', 'Containers', 'Build Cache', 'RUN rootfs cache', 'RUN cache mounts']);
    // Images and the build cache are the blobs (and the small record files): their sizes add up to du's.
    const bytes = (human: string) => {
      const m = /^([\d.]+)([kMGT]?B)$/.exec(human)!;
      return Number(m[1]) * 1000 ** ['B', 'kB', 'MB', 'GB', 'TB'].indexOf(m[2]!);
    };
    const counted = bytes(dfRows[0]!['Size']!) + bytes(dfRows[2]!['Size']!);
    const onDisk = Number(spawnSync('du', ['-sb', '--apparent-size', join(store, 'blobs/sha256'), join(store, 'cache')], { encoding: 'utf8' }).stdout.trim().split('\n').reduce((n, l) => n + Number(l.split('\t')[0]), 0));
    expect(Math.abs(counted - onDisk) / onDisk).toBeLessThan(0.01);

    const before = du();
    const pruned = await kiln('builder', 'prune', '-a', '-f');
    expect(pruned.code).toBe(0);
    const reclaimed = /Total reclaimed space: (.+)\n$/.exec(pruned.stdout)![1]!;
    // The 3 MB layer stays: the untagged image still holds it (what goes is the build cache's own).
    expect(before - du()).toBeLessThan(1_000_000);
    expect(reclaimed).toMatch(/B$/);
    const beforeImages = du();
    const images = await kiln('image', 'prune', '-f');
    expect(images.stdout).toMatch(/^Deleted Images:\ndeleted: sha256:[0-9a-f]{64}\n/);
    const freed = before - du();
    expect(freed).toBeGreaterThan(3_000_000);
    // What prune reports is what left the disk (to the 3 digits docker prints).
    const reported = bytes(/Total reclaimed space: (\S+)\n$/.exec(images.stdout)![1]!);
    expect(Math.abs(reported - (beforeImages - du())) / reported).toBeLessThan(0.01);
    expect((await kiln('images', '--filter', 'dangling=true', '-q')).stdout).toBe('');
  }, 60_000);

  it('image prune -a while two builds write to the store: both builds succeed and their images are whole', async () => {
    const contexts = [1, 2].map((n) =>
      writeTree(tempDir(`verbs-race-${n}`), { Dockerfile: `FROM ${base.busybox}\nCOPY a /a\nRUN sleep 1 && cat /a > /c\nCOPY b /b\n`, a: `${n}`.repeat(2_000_000), b: `b${n}` }),
    );
    /** A kiln process; `started` resolves once it printed `until` on stderr. */
    const runKiln = (args: string[], until?: RegExp) => {
      const child = spawn(process.execPath, [kilnBin, ...args], { env: { ...process.env, KILN_OFFLINE: '1' } });
      let stdout = '';
      let stderr = '';
      let started!: () => void;
      const startedP = new Promise<void>((resolve) => (started = resolve));
      child.stdout.on('data', (b: Buffer) => (stdout += b));
      child.stderr.on('data', (b: Buffer) => {
        stderr += b;
        if (!until || until.test(stderr)) started();
      });
      const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.on('close', (code) => (started(), resolve({ code, stdout, stderr }))));
      return { started: startedP, done };
    };
    const builds = contexts.map((ctx, i) => runKiln(['build', '--store', store, '--progress', 'plain', '-t', `race:${i}`, ctx], /RUN sleep/));
    // The prune starts while both builds are in their RUN step: it waits for them, then removes every image.
    await Promise.all(builds.map((b) => b.started));
    const prune = runKiln(['image', 'prune', '-a', '-f', '--store', store]);
    const results = await Promise.all([...builds.map((b) => b.done), prune.done]);
    for (const r of results) expect(r.code).toBe(0);
    expect(results[2]!.stderr).toMatch(/^waiting for 2 builds \(or pulls, loads, pushes\) using the store to end\n/);
    expect(results[2]!.stdout).toMatch(/untagged: race:0\n/);
    // Whatever the order, an image that is still there is whole: every blob it needs is stored.
    for (const i of [0, 1]) expect(imageIsWhole(`race:${i}`)).toBe(true);
  }, 120_000);
});
