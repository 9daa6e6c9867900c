// `kiln save` and `kiln load`, judged by the real tools: docker 20.10 loads and runs what kiln save
// writes, kiln load reads what docker save writes (and builds on it), skopeo reads kiln save's OCI
// archives; kiln load reads them back gzip-compressed through standard input. Bad names and bad
// archives fail clearly and record nothing. Hermetic: images are built locally (FROM scratch, or
// the busybox base image made by helpers/base-images.ts); nothing is pulled.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync, gzipSync } from 'node:zlib';
import { saveCommand } from '../../src/cli/save.js';
import { loadCommand } from '../../src/cli/load.js';
import { findImage, listCatalog } from '../../src/engine/image-catalog.js';
import { UsageError } from '../../src/cli/usage.js';
import type { CliIo } from '../../src/cli/io.js';
import { KilnError } from '../../src/errors.js';
import { defaultPlatform } from '../../src/oci/content.js';
import { formatPlatform } from '../../src/oci/image.js';
import { openStore } from '../../src/store/store.js';
import { makeBaseImages } from '../helpers/base-images.js';
import { describeWithDocker, dockerLoad, useDockerd } from '../helpers/dockerd.js';
import { ROOT, itNeeding, tool, tools } from '../helpers/requirements.js';
import { kiln, kilnBin, writeTree } from '../engine/kiln-helpers.js';

const run = promisify(execFile);
const HOST = formatPlatform(defaultPlatform());
const HOST_ARCH = defaultPlatform().architecture;
const FOREIGN = HOST_ARCH === 'arm64' ? 'linux/amd64' : 'linux/arm64';

/** An image of the store as docker's rules name it: its digest, and its config digest when it is one manifest. */
async function resolveImage(s: Awaited<ReturnType<typeof openStore>>, name: string): Promise<{ digest: string; configDigest?: string }> {
  const image = findImage(await listCatalog(s), name);
  return { digest: image.digest, ...(image.platforms.length ? {} : { configDigest: image.id }) };
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** A verb called in-process with a CliIo, its errors reported as main() reports them. */
async function call(command: (args: string[], io: CliIo) => Promise<number>, args: string[], stdin: Uint8Array = new Uint8Array()): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), readStdin: async () => stdin };
  try {
    return { code: await command(args, io), stdout, stderr };
  } catch (e) {
    if (e instanceof UsageError) return { code: 2, stdout, stderr: `kiln: ${e.message}\n` };
    if (e instanceof KilnError) return { code: 1, stdout, stderr: `error: ${e.message}\n` };
    throw e;
  }
}
const save = (args: string[]): Promise<Run> => call(saveCommand, args);
const load = (args: string[], stdin?: Uint8Array): Promise<Run> => call(loadCommand, args, stdin);

/** The real `kiln` binary on the process's own stdin and stdout (streams: the paths a pipe takes). */
function processCommand(verb: 'save' | 'load', args: string[], io: { stdinFile?: string; stdoutFile?: string }): Promise<Run> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [kilnBin, verb, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b));
    let written: Promise<unknown> = Promise.resolve();
    if (io.stdoutFile) {
      const ws = createWriteStream(io.stdoutFile);
      written = new Promise<void>((done) => ws.on('close', () => done()));
      child.stdout.pipe(ws);
    } else {
      child.stdout.on('data', (b: Buffer) => (stdout += b));
    }
    if (io.stdinFile) createReadStream(io.stdinFile).pipe(child.stdin);
    else child.stdin.end();
    child.on('error', reject);
    child.on('close', (code) => void written.then(() => resolvePromise({ code: code ?? 1, stdout, stderr })));
  });
}

/** The members of a tar (GNU tar's listing). */
function tarNames(file: string): string[] {
  return execFileSync('tar', ['-tf', file], { encoding: 'utf8' }).trim().split('\n');
}
function tarMember(file: string, member: string): Buffer {
  return execFileSync('tar', ['-xOf', file, member], { maxBuffer: 256 << 20 });
}

interface ManifestItem {
  Config: string;
  RepoTags: string[] | null;
  Layers: string[];
}

async function storeState(store: string): Promise<{ images: string[]; refs: string[] }> {
  const s = await openStore(store);
  return { images: (await s.listImages()).map((i) => i.digest), refs: (await s.listRefs()).map((r) => r.ref) };
}

async function build(store: string, dir: string, dockerfile: string, files: Record<string, string>, extra: string[]): Promise<string> {
  const ctx = writeTree(dir, { Dockerfile: dockerfile, ...files });
  const iid = join(dir, '.iid');
  const r = await kiln(['build', '--store', store, '--progress', 'quiet', '--iidfile', iid, ...extra, ctx]);
  if (r.code !== 0) throw new Error(`kiln build failed: ${r.stderr}`);
  return readFileSync(iid, 'utf8').trim();
}

describe('kiln save and kiln load', () => {
  let work: string;
  let store: string;
  let idA: string;
  let idB: string;
  let multiDigest: string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'kiln-save-load-'));
    store = join(work, 'store');
    idA = await build(store, join(work, 'a'), 'FROM scratch\nCOPY a.txt /a.txt\nCMD ["/a"]\n', { 'a.txt': 'image a\n' }, [
      '-t', 'kiln-test/sl-a:1.0', '-t', 'kiln-test/sl-a:latest',
    ]);
    idB = await build(store, join(work, 'b'), 'FROM scratch\nCOPY b.txt /b.txt\nCOPY c.txt /c.txt\n', { 'b.txt': 'image b\n', 'c.txt': 'c\n' }, [
      '-t', 'kiln-test/sl-b:2.0',
    ]);
    await build(store, join(work, 'm'), 'FROM scratch\nARG TARGETARCH\nCOPY m.txt /m.txt\nLABEL arch=$TARGETARCH\n', { 'm.txt': 'multi\n' }, [
      '-t', 'kiln-test/sl-multi:3.0', '--platform', `${HOST},${FOREIGN}`,
    ]);
    multiDigest = (await (await openStore(store)).getRef('docker.io/kiln-test/sl-multi:3.0')) as string;
  }, 120_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('saves several images and tags into one docker archive, named by tag, by repository, by short ID and by digest', async () => {
    const s = await openStore(store);
    const digestB = (await s.getRef('docker.io/kiln-test/sl-b:2.0')) as string;
    const file = join(work, 'two.tar');
    const r = await save(['--store', store, '-o', file, 'kiln-test/sl-a:1.0', 'kiln-test/sl-a:latest', 'kiln-test/sl-b:2.0', idA.slice(7, 19)]);
    expect(r).toEqual({ code: 0, stdout: '', stderr: '' });
    const names = tarNames(file);
    expect(names).toEqual(expect.arrayContaining(['manifest.json', 'repositories', 'index.json', 'oci-layout']));
    const items = JSON.parse(tarMember(file, 'manifest.json').toString()) as ManifestItem[];
    expect(items.map((i) => [i.Config, i.RepoTags])).toEqual([
      [`blobs/sha256/${idA.slice(7)}`, ['kiln-test/sl-a:1.0', 'kiln-test/sl-a:latest']],
      [`blobs/sha256/${idB.slice(7)}`, ['kiln-test/sl-b:2.0']],
    ]);
    for (const item of items) for (const l of item.Layers) expect(names).toContain(l);
    expect(Object.keys(JSON.parse(tarMember(file, 'repositories').toString()))).toEqual(['kiln-test/sl-a', 'kiln-test/sl-b']);

    // NAME alone: every tag of the repository (as docker save); an ID or a digest: no tag.
    const byRepo = join(work, 'repo.tar');
    expect((await save(['--store', store, '-o', byRepo, 'kiln-test/sl-a'])).code).toBe(0);
    expect((JSON.parse(tarMember(byRepo, 'manifest.json').toString()) as ManifestItem[]).map((i) => i.RepoTags)).toEqual([
      ['kiln-test/sl-a:1.0', 'kiln-test/sl-a:latest'],
    ]);
    const byDigest = join(work, 'digest.tar');
    expect((await save(['--store', store, '-o', byDigest, digestB, `sha256:${idA.slice(7, 15)}`])).code).toBe(0);
    expect((JSON.parse(tarMember(byDigest, 'manifest.json').toString()) as ManifestItem[]).map((i) => i.RepoTags)).toEqual([null, null]);

    // Back into a fresh store: tags restored, every image recorded, the same digests.
    const fresh = join(work, 'fresh-two');
    const l = await load(['--store', fresh, '-i', file]);
    expect(l).toEqual({ code: 0, stdout: 'Loaded image: kiln-test/sl-a:1.0\nLoaded image: kiln-test/sl-a:latest\nLoaded image: kiln-test/sl-b:2.0\n', stderr: '' });
    const f = await openStore(fresh);
    const digestA = (await s.getRef('docker.io/kiln-test/sl-a:1.0')) as string;
    expect(await f.getRef('docker.io/kiln-test/sl-a:1.0')).toBe(digestA);
    expect(await f.getRef('docker.io/kiln-test/sl-a:latest')).toBe(digestA);
    expect(await f.getRef('docker.io/kiln-test/sl-b:2.0')).toBe(digestB);
    expect((await f.listImages()).map((i) => i.digest).sort()).toEqual([digestA, digestB].sort());

    // Untagged images: "Loaded image ID" with the image ID (the config digest).
    const untagged = join(work, 'fresh-untagged');
    const u = await load(['--store', untagged, '-i', byDigest]);
    expect(u.stdout).toBe(`Loaded image ID: ${idB}\nLoaded image ID: ${idA}\n`);
    expect((await storeState(untagged)).images.sort()).toEqual([digestA, digestB].sort());
    expect((await storeState(untagged)).refs).toEqual([]);
  });

  it('resolves names as docker does', async () => {
    const s = await openStore(store);
    const digestA = (await s.getRef('docker.io/kiln-test/sl-a:1.0')) as string;
    expect(await resolveImage(s, 'kiln-test/sl-a')).toEqual({ digest: digestA, configDigest: idA });
    expect(await resolveImage(s, idA)).toEqual({ digest: digestA, configDigest: idA });
    expect(await resolveImage(s, idA.slice(7))).toEqual({ digest: digestA, configDigest: idA });
    expect(await resolveImage(s, idA.slice(0, 12))).toEqual({ digest: digestA, configDigest: idA });
    expect(await resolveImage(s, digestA)).toEqual({ digest: digestA, configDigest: idA });
    expect(await resolveImage(s, `kiln-test/sl-a@${digestA}`)).toEqual({ digest: digestA, configDigest: idA });
    expect(await resolveImage(s, multiDigest.slice(7, 20))).toEqual({ digest: multiDigest });
    await expect(resolveImage(s, 'kiln-test/sl-a:2')).rejects.toThrow(/^No such image: kiln-test\/sl-a:2 \(`kiln images` lists the images in the store\)$/);
    await expect(resolveImage(s, 'f'.repeat(64))).rejects.toThrow(/^No such image: f{64} /);
  });

  it('saves the platform of this machine of a multi-platform image in a docker archive, and refuses one it lacks', async () => {
    const file = join(work, 'multi-docker.tar');
    expect(await save(['--store', store, '-o', file, 'kiln-test/sl-multi:3.0'])).toEqual({ code: 0, stdout: '', stderr: '' });
    const items = JSON.parse(tarMember(file, 'manifest.json').toString()) as ManifestItem[];
    expect(items).toHaveLength(1);
    const config = JSON.parse(tarMember(file, items[0]!.Config).toString()) as { architecture: string; config: { Labels: Record<string, string> } };
    expect(config.architecture).toBe(HOST_ARCH);
    expect(config.config.Labels.arch).toBe(HOST_ARCH);
    const other = await save(['--store', store, '-o', join(work, 'x.tar'), '--platform', 'linux/s390x', 'kiln-test/sl-multi:3.0']);
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/kiln-test\/sl-multi:3.0 is a multi-platform image.*no image for platform linux\/s390x.*--format oci/);
    expect(existsSync(join(work, 'x.tar'))).toBe(false);
    const help = await save(['--help']);
    expect(help.stdout).toContain('--format oci keeps every platform');
    expect(help.stdout).toContain(`this machine's, ${HOST}`);
  });

  it('writes an OCI archive (every platform, containerd annotations) that kiln load reads back gzipped from stdin', async () => {
    const file = join(work, 'oci.tar');
    expect(await save(['--store', store, '--format', 'oci', '-o', file, 'kiln-test/sl-multi:3.0', 'kiln-test/sl-b:2.0', 'kiln-test/sl-a'])).toEqual({
      code: 0,
      stdout: '',
      stderr: '',
    });
    const names = tarNames(file);
    expect(names).toContain('oci-layout');
    expect(names).not.toContain('manifest.json');
    const index = JSON.parse(tarMember(file, 'index.json').toString()) as { manifests: { mediaType: string; digest: string; annotations: Record<string, string> }[] };
    expect(index.manifests.map((m) => m.annotations)).toEqual([
      { 'io.containerd.image.name': 'docker.io/kiln-test/sl-multi:3.0', 'org.opencontainers.image.ref.name': '3.0' },
      { 'io.containerd.image.name': 'docker.io/kiln-test/sl-b:2.0', 'org.opencontainers.image.ref.name': '2.0' },
      { 'io.containerd.image.name': 'docker.io/kiln-test/sl-a:1.0', 'org.opencontainers.image.ref.name': '1.0' },
      { 'io.containerd.image.name': 'docker.io/kiln-test/sl-a:latest', 'org.opencontainers.image.ref.name': 'latest' },
    ]);
    expect(index.manifests[0]).toMatchObject({ mediaType: 'application/vnd.oci.image.index.v1+json', digest: multiDigest });

    const gz = join(work, 'oci.tar.gz');
    writeFileSync(gz, gzipSync(readFileSync(file)));
    const fresh = join(work, 'fresh-oci');
    const expected = 'Loaded image: kiln-test/sl-multi:3.0\nLoaded image: kiln-test/sl-b:2.0\nLoaded image: kiln-test/sl-a:1.0\nLoaded image: kiln-test/sl-a:latest\n';
    // In-process (the caller's stdin) and as a real process reading its own stdin.
    expect(await load(['--store', fresh, '-q'], readFileSync(gz))).toEqual({ code: 0, stdout: expected, stderr: '' });
    const fresh2 = join(work, 'fresh-oci-process');
    expect(await processCommand('load', ['--store', fresh2], { stdinFile: gz })).toEqual({ code: 0, stdout: expected, stderr: '' });
    for (const dir of [fresh, fresh2]) {
      const f = await openStore(dir);
      expect(await f.getRef('docker.io/kiln-test/sl-multi:3.0')).toBe(multiDigest); // the whole index
      expect((await f.listImages()).map((i) => i.digest)).toContain(multiDigest);
    }
    // Every platform came along: the index saves again whole from the new store.
    const again = join(work, 'oci-again.tar');
    expect((await save(['--store', fresh, '--format', 'oci', '-o', again, 'kiln-test/sl-multi:3.0'])).code).toBe(0);
    const first = tarNames(file).filter((n) => n.startsWith('blobs/sha256/'));
    for (const n of tarNames(again).filter((x) => x.startsWith('blobs/sha256/'))) expect(first).toContain(n);

    // An archive with only some platforms of an index (as Docker 25 exports a partly pulled
    // image): this machine's platform is loaded, the tag names its manifest.
    const dir = join(work, 'partial');
    mkdirSync(dir);
    execFileSync('tar', ['-xf', file, '-C', dir]);
    const idx = JSON.parse(readFileSync(join(dir, 'blobs/sha256', multiDigest.slice(7)), 'utf8')) as {
      manifests: { digest: string; platform: { architecture: string } }[];
    };
    const hostChild = idx.manifests.find((m) => m.platform.architecture === HOST_ARCH)!.digest;
    const foreignChild = idx.manifests.find((m) => m.platform.architecture !== HOST_ARCH)!.digest;
    rmSync(join(dir, 'blobs/sha256', foreignChild.slice(7)));
    const partial = join(work, 'partial.tar');
    execFileSync('tar', ['-cf', partial, '-C', dir, 'blobs', 'index.json', 'oci-layout']);
    const partialStore = join(work, 'fresh-partial');
    expect((await load(['--store', partialStore, '-i', partial])).code).toBe(0);
    expect(await (await openStore(partialStore)).getRef('docker.io/kiln-test/sl-multi:3.0')).toBe(hostChild);
    expect((await storeState(partialStore)).images).toContain(hostChild);
    expect((await storeState(partialStore)).images).not.toContain(multiDigest);
  });

  itNeeding(tools('skopeo'), 'writes OCI archives skopeo reads (one image per tag, an index whole)', async () => {
    const file = join(work, 'oci-skopeo.tar');
    expect((await save(['--store', store, '--format', 'oci', '-o', file, 'kiln-test/sl-multi:3.0', 'kiln-test/sl-b:2.0'])).code).toBe(0);
    const skopeo = async (...args: string[]): Promise<string> => (await run('skopeo', ['--insecure-policy', ...args], { maxBuffer: 64 << 20 })).stdout;
    const b = JSON.parse(await skopeo('inspect', `oci-archive:${file}:2.0`)) as { Digest: string; Layers: string[] };
    const s = await openStore(store);
    expect(b.Digest).toBe(await s.getRef('docker.io/kiln-test/sl-b:2.0'));
    expect(b.Layers).toHaveLength(2);
    const raw = JSON.parse(await skopeo('inspect', '--raw', `oci-archive:${file}:3.0`)) as { manifests: { platform: { architecture: string } }[] };
    expect(raw.manifests.map((m) => m.platform.architecture).sort()).toEqual([HOST_ARCH, FOREIGN.split('/')[1]].sort());
    const m = JSON.parse(await skopeo('inspect', '--override-arch', FOREIGN.split('/')[1]!, `oci-archive:${file}:3.0`)) as { Architecture: string; Labels: Record<string, string> };
    expect(m.Architecture).toBe(FOREIGN.split('/')[1]);
    expect(m.Labels.arch).toBe(FOREIGN.split('/')[1]);
    // And skopeo's own copy to an oci-archive is read by kiln load (ref name "name:tag").
    const copied = join(work, 'skopeo-copy.tar');
    await skopeo('copy', `oci-archive:${file}:2.0`, `oci-archive:${copied}:kiln-test/sl-copied:9`);
    const l = await load(['--store', join(work, 'fresh-skopeo'), '-i', copied]);
    expect(l).toEqual({ code: 0, stdout: 'Loaded image: kiln-test/sl-copied:9\n', stderr: '' });
  });

  it('writes to standard output (a pipe), and refuses a caller without one', async () => {
    const out = join(work, 'stdout.tar');
    const r = await processCommand('save', ['--store', store, 'kiln-test/sl-b:2.0'], { stdoutFile: out });
    expect(r).toEqual({ code: 0, stdout: '', stderr: '' });
    const viaFile = join(work, 'b.tar');
    expect((await save(['--store', store, '-o', viaFile, 'kiln-test/sl-b:2.0'])).code).toBe(0);
    expect(readFileSync(out)).toEqual(readFileSync(viaFile)); // the same bytes, deterministically
    expect((await save(['--store', store, 'kiln-test/sl-b:2.0'])).stderr).toMatch(/give -o FILE/);
  });

  it('fails on an unknown image, writing nothing', async () => {
    const file = join(work, 'none.tar');
    const r = await save(['--store', store, '-o', file, 'kiln-test/sl-a:1.0', 'kiln-test/nosuch:1']);
    expect(r).toEqual({ code: 1, stdout: '', stderr: 'error: No such image: kiln-test/nosuch:1 (`kiln images` lists the images in the store)\n' });
    expect(existsSync(file)).toBe(false);
    expect((await save(['--store', store, '-o', file, 'deadbeef'])).stderr).toBe('error: No such image: deadbeef (`kiln images` lists the images in the store)\n');
    expect((await save(['--store', store, '-o', file])).code).toBe(2);
    expect((await save(['--store', store, '--format', 'zip', '-o', file, 'kiln-test/sl-a'])).code).toBe(2);
  });

  it('refuses truncated, corrupt and empty archives with a clear message, recording nothing', async () => {
    const file = join(work, 'whole.tar');
    expect((await save(['--store', store, '-o', file, 'kiln-test/sl-a:1.0', 'kiln-test/sl-b:2.0'])).code).toBe(0);
    const whole = readFileSync(file);
    const cases: [string, Buffer, RegExp][] = [
      ['cut.tar', whole.subarray(0, Math.floor(whole.length / 2) + 100), /cut\.tar is truncated.*save or copy it again/],
      ['cut-in-entry.tar', whole.subarray(0, 1536 + 100), /cut-in-entry\.tar is truncated/],
      ['cut-at-entry.tar', whole.subarray(0, 1024), /cut-at-entry\.tar is truncated \(it stops before the tar's end-of-archive marker\)/],
      ['cut.tar.gz', gzipSync(whole).subarray(0, 400), /cut\.tar\.gz: the gzip-compressed archive is truncated or corrupt/],
      ['empty.tar', Buffer.alloc(0), /empty\.tar is empty/],
      ['garbage.tar', Buffer.from('not an archive at all\n'.repeat(100)), /garbage\.tar is not a valid tar archive/],
    ];
    // A layer with one byte changed: its digest no longer matches (the archive is the same size).
    const items = JSON.parse(tarMember(file, 'manifest.json').toString()) as ManifestItem[];
    const layer = items[1]!.Layers[0]!;
    const at = whole.indexOf(Buffer.from('image b\n'));
    expect(at).toBeGreaterThan(0);
    const altered = Buffer.from(whole);
    altered[at] = 'I'.charCodeAt(0);
    cases.push(['altered.tar', altered, new RegExp(`altered\\.tar: layer 1 \\(${layer.replace(/[/.]/g, '\\$&')}\\) has diffID .* but the image config expects`)]);
    for (const [name, bytes, message] of cases) {
      const bad = join(work, name);
      writeFileSync(bad, bytes);
      const fresh = join(work, `fresh-${name}`);
      const r = await load(['--store', fresh, '-i', bad]);
      expect({ name, code: r.code, stdout: r.stdout }).toEqual({ name, code: 1, stdout: '' });
      expect(r.stderr).toMatch(message);
      expect(await storeState(fresh)).toEqual({ images: [], refs: [] });
    }
    // Standard input that is empty.
    const r = await load(['--store', join(work, 'fresh-stdin')]);
    expect(r.stderr).toBe('error: standard input is empty: expected an image archive (a tar written by docker save or kiln save)\n');
    // The gzip-compressed whole archive is fine.
    expect(gunzipSync(gzipSync(whole)).equals(whole)).toBe(true);
  });
});

describeWithDocker(
  'kiln save and kiln load with docker 20.10',
  () => {
    const env = useDockerd();
    let tmp: string;
    let store: string;
    let busybox: string;

    beforeAll(async () => {
      tmp = mkdtempSync(join(tmpdir(), 'kiln-save-load-docker-'));
      store = join(tmp, 'store');
      const base = await makeBaseImages(env.dockerd, join(tmp, 'base'));
      busybox = base.busybox;
      const loaded = await kiln(['load', '--store', store, '-i', base.busyboxArchive]);
      if (loaded.code !== 0) throw new Error(`kiln load of the base image failed: ${loaded.stderr}`);
    }, 180_000);

    afterAll(() => {
      if (tmp) rmSync(tmp, { recursive: true, force: true });
    });

    it('kiln save of two images (three tags): docker load restores the tags, docker run runs each', async () => {
      const d = env.dockerd;
      const idA = await build(store, join(tmp, 'a'), `FROM ${busybox}\nCOPY msg /msg\nCMD ["cat", "/msg"]\n`, { msg: 'hello from image a\n' }, [
        '-t', 'kiln-test/saved-a:1', '-t', 'kiln-test/saved-a:latest',
      ]);
      // B's layer is gzip-compressed in the store, so in the archive too: docker load decompresses it.
      const idB = await build(store, join(tmp, 'b'), `FROM ${busybox}\nCOPY who /who\nCMD ["sh", "-c", "echo hello from image $(cat /who)"]\n`, { who: 'b' }, [
        '-t', 'kiln-test/saved-b:1', '--compression', 'gzip',
      ]);
      const file = join(tmp, 'saved.tar');
      expect(await save(['--store', store, '-o', file, 'kiln-test/saved-a:1', 'kiln-test/saved-a:latest', 'kiln-test/saved-b:1'])).toEqual({
        code: 0,
        stdout: '',
        stderr: '',
      });
      const items = JSON.parse(tarMember(file, 'manifest.json').toString()) as ManifestItem[];
      expect(tarMember(file, items[1]!.Layers.at(-1)!).subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
      expect((await dockerLoad(d, file)).sort()).toEqual(['kiln-test/saved-a:1', 'kiln-test/saved-a:latest', 'kiln-test/saved-b:1']);
      const listed = await d.dockerOk(['image', 'ls', '--no-trunc', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}', '--filter', 'reference=kiln-test/saved-*']);
      expect(listed.trim().split('\n').sort()).toEqual([`kiln-test/saved-a:1 ${idA}`, `kiln-test/saved-a:latest ${idA}`, `kiln-test/saved-b:1 ${idB}`]);
      expect(await d.dockerOk(['run', '--rm', '--network=none', 'kiln-test/saved-a:1'])).toBe('hello from image a\n');
      expect(await d.dockerOk(['run', '--rm', '--network=none', 'kiln-test/saved-a:latest'])).toBe('hello from image a\n');
      expect(await d.dockerOk(['run', '--rm', '--network=none', 'kiln-test/saved-b:1'])).toBe('hello from image b\n');

      // Saved by short ID: untagged, and docker says so.
      const byId = join(tmp, 'by-id.tar');
      expect((await save(['--store', store, '-o', byId, idB.slice(7, 19)])).code).toBe(0);
      expect(await dockerLoad(d, byId)).toEqual([idB]);
    }, 180_000);

    it('docker save of two images into one file: kiln load -i restores both, and kiln build FROM one of them works', async () => {
      const d = env.dockerd;
      const ctx = writeTree(join(tmp, 'docker-ctx'), {
        Dockerfile: `FROM ${busybox}\nRUN echo "made by docker" > /greeting\nCMD ["cat", "/greeting"]\n`,
      });
      await d.dockerOk(['build', '--network=host', '-t', 'kiln-test/docker-made:1', ctx], { cwd: ctx });
      const dockerId = (await d.dockerOk(['image', 'inspect', '--format', '{{.Id}}', 'kiln-test/docker-made:1'])).trim();
      const file = join(tmp, 'docker-saved.tar');
      await d.dockerOk(['save', '-o', file, busybox, 'kiln-test/docker-made:1']);
      expect(tarNames(file)).toContain('manifest.json');

      const fresh = join(tmp, 'store-docker');
      const l = await load(['--store', fresh, '-i', file]);
      expect(l.stderr).toBe('');
      expect(l.stdout.split('\n').filter(Boolean).sort()).toEqual(['Loaded image: kiln-test/busybox:latest', 'Loaded image: kiln-test/docker-made:1']);
      const s = await openStore(fresh);
      expect(await resolveImage(s, 'kiln-test/docker-made:1')).toMatchObject({ configDigest: dockerId });
      expect((await s.listImages()).length).toBe(2);

      // Built on: FROM the loaded image, with a RUN that reads its layers.
      const out = join(tmp, 'child.tar');
      const child = await kiln([
        'build', '--store', fresh, '--progress', 'quiet', '-t', 'kiln-test/child-of-loaded:1', '--output', `type=docker,dest=${out}`,
        writeTree(join(tmp, 'child-ctx'), {
          Dockerfile: 'FROM kiln-test/docker-made:1\nRUN cat /greeting > /copied && echo "and kiln" >> /copied\nCMD ["cat", "/copied"]\n',
        }),
      ]);
      expect(child.stderr).toBe('');
      expect(child.code).toBe(0);
      expect(await dockerLoad(d, out)).toEqual(['kiln-test/child-of-loaded:1']);
      expect(await d.dockerOk(['run', '--rm', '--network=none', 'kiln-test/child-of-loaded:1'])).toBe('made by docker\nand kiln\n');
      expect(statSync(out).size).toBeGreaterThan(0);
    }, 180_000);
  },
  [ROOT, tool('runc')],
);
