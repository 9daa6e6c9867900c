// kiln build end to end, Kiln only: config semantics, outputs read by other tools, reproducible
// digests, the step cache, and bad input. (The docker-vs-kiln comparison is in differential.test.ts.)
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, utimesSync, writeFileSync, readdirSync, chmodSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { kiln, kilnProcess, makeBaseLayout, tempDir, writeTree } from './kiln-helpers.js';
import { openStore } from '../../src/store/store.js';
import type { ImageConfig, ImageManifest } from '../../src/oci/types.js';
import { OCI_SCHEMAS, validateOciDocument } from '../helpers/oci-schema.js';
import { haveNow, itNeeding, tools } from '../helpers/requirements.js';
import { spawn } from 'node:child_process';
import { kilnBin } from './kiln-helpers.js';

const work = tempDir('build');
const store = join(work, 'store');
let base: string;

beforeAll(async () => {
  base = await makeBaseLayout(work, store);
});

interface Built {
  code: number;
  stderr: string;
  manifest: ImageManifest;
  config: ImageConfig;
  digest: string;
  steps: { instruction: string; cached: boolean }[];
}

async function buildCtx(ctx: string, extra: string[] = [], storeDir = store): Promise<Built> {
  const meta = join(ctx, '..', `${Math.random().toString(36).slice(2)}.json`);
  const r = await kiln(['build', '--store', storeDir, '--progress', 'plain', '--metadata-file', meta, ...extra, ctx]);
  if (r.code !== 0) return { code: r.code, stderr: r.stderr } as Built;
  const m = JSON.parse(readFileSync(meta, 'utf8'));
  const s = await openStore(storeDir);
  const manifest = await s.readJson<ImageManifest>(m['containerimage.digest']);
  const config = await s.readJson<ImageConfig>(manifest.config.digest);
  return { code: 0, stderr: r.stderr, manifest, config, digest: m['containerimage.digest'], steps: m['kiln.steps'] };
}

const fromBase = () => `FROM oci-layout://${base}:latest`;

describe('kiln build: image config semantics', () => {
  it('applies every metadata instruction as Docker does', async () => {
    const ctx = writeTree(tempDir('cfg'), {
      Dockerfile: [
        'ARG TAG=latest',
        `${fromBase().replace(':latest', ':${TAG}')} AS final`,
        'ARG WHO=world',
        'ENV GREETING="hello ${WHO}" PLAIN=x',
        'ENV LEGACY value with spaces',
        'LABEL org.example.who=$WHO "quoted key"=v',
        'MAINTAINER someone <s@example.com>',
        'EXPOSE 80 53/udp 8000-8001',
        'WORKDIR app',
        'WORKDIR sub',
        'USER app:app',
        'VOLUME ["/data"] ',
        'VOLUME /cache /logs',
        'STOPSIGNAL SIGQUIT',
        'SHELL ["/bin/sh", "-ec"]',
        'HEALTHCHECK --interval=30s --retries=3 CMD check --quiet',
        'ONBUILD COPY . /src',
        'ENTRYPOINT ["/bin/app"]',
        'CMD run $GREETING',
      ].join('\n'),
    });
    const b = await buildCtx(ctx, ['--build-arg', 'WHO=kiln', '--label', 'cli=yes']);
    expect(b.stderr).not.toMatch(/error/);
    const c = b.config.config!;
    expect(c.Env).toEqual(['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'GREETING=hello kiln', 'PLAIN=x', 'LEGACY=value with spaces']);
    expect(c.Labels).toEqual({ 'org.example.who': 'kiln', 'quoted key': 'v', cli: 'yes' });
    expect(b.config.author).toBe('someone <s@example.com>');
    expect(Object.keys(c.ExposedPorts!).sort()).toEqual(['53/udp', '80/tcp', '8000/tcp', '8001/tcp']);
    expect(c.WorkingDir).toBe('/app/sub');
    expect(c.User).toBe('app:app');
    expect(Object.keys(c.Volumes!).sort()).toEqual(['/cache', '/data', '/logs']);
    expect(c.StopSignal).toBe('SIGQUIT');
    expect(c.Shell).toEqual(['/bin/sh', '-ec']);
    expect(c.Healthcheck).toEqual({ Test: ['CMD-SHELL', 'check --quiet'], Interval: 30e9, Retries: 3 });
    expect(c.OnBuild).toEqual(['COPY . /src']);
    expect(c.Entrypoint).toEqual(['/bin/app']);
    expect(c.Cmd).toEqual(['/bin/sh', '-ec', 'run $GREETING']);
    expect(b.config.history!.at(-1)).toMatchObject({ created_by: 'CMD ["/bin/sh","-ec","run $GREETING"]', empty_layer: true });
  });

  it('ENTRYPOINT resets a CMD inherited from the base', async () => {
    const ctx = writeTree(tempDir('ep'), { Dockerfile: `${fromBase()}\nENTRYPOINT ["/x"]\n` });
    const b = await buildCtx(ctx);
    expect(b.config.config!.Cmd).toBeNull();
  });

  it('runs ONBUILD triggers of the base image, then clears them', async () => {
    const parentCtx = writeTree(tempDir('onb-parent'), { Dockerfile: `${fromBase()}\nONBUILD COPY hello.txt /hello.txt\nONBUILD ENV TRIGGERED=1\n` });
    const parentOut = join(work, 'onbuild-layout');
    expect((await kiln(['build', '--store', store, '-q', '-t', 'onb:latest', '-o', `type=oci,dest=${parentOut}`, parentCtx])).code).toBe(0);
    const child = writeTree(tempDir('onb-child'), { Dockerfile: `FROM oci-layout://${parentOut}:latest\n`, 'hello.txt': 'hi' });
    const b = await buildCtx(child);
    expect(b.config.config!.Env).toContain('TRIGGERED=1');
    expect(b.config.config!.OnBuild ?? null).toBeNull();
    expect(b.manifest.layers.length).toBe(2);
  });
});

describe('kiln build: outputs other tools read', () => {
  itNeeding(tools('skopeo', 'umoci'), 'writes an OCI layout that umoci and skopeo accept, with CMD and files intact', async () => {
    const ctx = writeTree(tempDir('out'), {
      Dockerfile: `${fromBase()}\nCOPY --chown=app:app --chmod=0640 secret.txt /home/app/\nCOPY dir/ /opt/dir/\nCMD ["/bin/sh", "-c", "cat /home/app/secret.txt"]\n`,
      'secret.txt': 'top secret\n',
      'dir/a.txt': 'a',
      'dir/link': { symlink: 'a.txt' },
      'dir/sub/b.sh': { content: 'echo b', mode: 0o755 },
    });
    const layout = join(work, 'out-layout');
    const r = await kiln(['build', '--store', store, '-q', '-t', 'out:v1', '-o', `type=oci,dest=${layout}`, ctx]);
    expect(r.code).toBe(0);
    const inspect = JSON.parse(execFileSync('skopeo', ['inspect', `oci:${layout}:v1`], { encoding: 'utf8' }));
    expect(inspect.Layers).toHaveLength(3);
    const bundle = join(work, 'bundle');
    execFileSync('umoci', ['unpack', '--image', `${layout}:v1`, bundle], { stdio: 'pipe' });
    const rootfs = join(bundle, 'rootfs');
    expect(readFileSync(join(rootfs, 'home/app/secret.txt'), 'utf8')).toBe('top secret\n');
    const ls = execFileSync('ls', ['-ln', join(rootfs, 'home/app/secret.txt')], { encoding: 'utf8' });
    expect(ls).toMatch(/^-rw-r----- 1 1000 1000 /);
    expect(readdirSync(join(rootfs, 'opt/dir')).sort()).toEqual(['a.txt', 'link', 'sub']);
    expect(execFileSync('readlink', [join(rootfs, 'opt/dir/link')], { encoding: 'utf8' }).trim()).toBe('a.txt');
    const runtime = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8'));
    expect(runtime.process.args).toEqual(['/bin/sh', '-c', 'cat /home/app/secret.txt']);
  });

  // (reads the layout the test above writes)
  itNeeding([OCI_SCHEMAS, ...tools('skopeo', 'umoci')], 'writes an index, manifest and config that validate against the OCI schemas', async () => {
    const layout = join(work, 'out-layout');
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
    const blob = (digest: string) => JSON.parse(readFileSync(join(layout, 'blobs/sha256', digest.slice(7)), 'utf8'));
    const manifest = blob(index.manifests[0].digest);
    const config = blob(manifest.config.digest);
    expect(validateOciDocument('application/vnd.oci.image.index.v1+json', index)).toMatchObject({ valid: true });
    expect(validateOciDocument('application/vnd.oci.image.manifest.v1+json', manifest)).toMatchObject({ valid: true });
    expect(validateOciDocument('application/vnd.oci.image.config.v1+json', config)).toMatchObject({ valid: true });
    expect(validateOciDocument('application/vnd.oci.layout.header.v1+json', JSON.parse(readFileSync(join(layout, 'oci-layout'), 'utf8')))).toMatchObject({ valid: true });
  });

  it('--annotation sets manifest annotations (manifest: prefix optional); other levels are refused', async () => {
    const ctx = writeTree(join(work, 'annotations'), { Dockerfile: 'FROM scratch\nCOPY a.txt /\n', 'a.txt': 'a\n' });
    const b = await buildCtx(ctx, ['--annotation', 'org.opencontainers.image.title=demo', '--annotation', 'manifest:com.example.x=1']);
    expect(b.code).toBe(0);
    expect(b.manifest.annotations).toEqual({ 'com.example.x': '1', 'org.opencontainers.image.title': 'demo' });
    const bad = await kiln(['build', '--store', store, '--annotation', 'index:a=b', ctx]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--annotation "index:a=b": only manifest annotations are supported/);
  });

  it('reads the Dockerfile from stdin with -f -', async () => {
    const ctx = writeTree(tempDir('stdin'), { 'f.txt': 'from stdin build' });
    const child = spawn(process.execPath, [kilnBin, 'build', '--store', store, '-q', '-f', '-', ctx]);
    child.stdin.end(`${fromBase()}\nCOPY f.txt /f.txt\n`);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    const code = await new Promise((r) => child.on('close', r));
    expect(code).toBe(0);
    expect(out).toMatch(/^sha256:[0-9a-f]{64}\n$/);
  });

  itNeeding(tools('skopeo'), 'writes a docker archive that skopeo reads, and kiln load imports it back', async () => {
    const ctx = writeTree(tempDir('arch'), { Dockerfile: `${fromBase()}\nCOPY f /f\n`, f: 'x' });
    const archive = join(work, 'image.tar');
    const meta = join(work, 'arch-meta.json');
    expect((await kiln(['build', '--store', store, '-q', '-t', 'arch:1', '-o', `type=docker,dest=${archive}`, '--metadata-file', meta, '--iidfile', join(work, 'iid'), ctx])).code).toBe(0);
    const inspect = JSON.parse(execFileSync('skopeo', ['inspect', `docker-archive:${archive}`], { encoding: 'utf8' }));
    expect(inspect.Layers).toHaveLength(2);
    const other = join(work, 'store-load');
    const loaded = await kiln(['load', '--store', other, '-i', archive]);
    expect(loaded.stdout).toBe('Loaded image: arch:1\n');
    const s = await openStore(other);
    expect(await s.getRef('docker.io/library/arch:1')).toMatch(/^sha256:/);
    expect(readFileSync(join(work, 'iid'), 'utf8')).toMatch(/^sha256:[0-9a-f]{64}$/);
  });
});

describe('kiln build: reproducible digests and the step cache', () => {
  const files = { Dockerfile: '', 'a.txt': 'alpha', 'b/c.txt': 'gamma', 'b/d.txt': 'delta' };
  const dockerfile = () => `${fromBase()}\nCOPY a.txt /a.txt\nENV X=1\nCOPY b/ /b/\nLABEL done=yes\n`;

  it('gives the same manifest digest in two stores, two directories, at two times', async () => {
    const one = writeTree(tempDir('repro1'), { ...files, Dockerfile: dockerfile() });
    const two = writeTree(tempDir('repro2'), { ...files, Dockerfile: dockerfile() });
    utimesSync(join(two, 'a.txt'), new Date(2001, 1, 1), new Date(2001, 1, 1));
    const first = await buildCtx(one, [], join(work, 'repro-store-1'));
    const second = await buildCtx(two, [], join(work, 'repro-store-2'));
    expect(first.code).toBe(0);
    expect(second.digest).toBe(first.digest);
  });

  it('hits every step on a rebuild, also after touching a file; one changed file rebuilds its step and those after', async () => {
    const ctx = writeTree(tempDir('cache'), { ...files, Dockerfile: dockerfile() });
    const first = await buildCtx(ctx);
    const again = await buildCtx(ctx);
    expect(again.steps.map((s) => s.cached)).toEqual(again.steps.map(() => true));
    expect(again.digest).toBe(first.digest);
    utimesSync(join(ctx, 'b/c.txt'), new Date(), new Date(Date.now() + 5000));
    const touched = await buildCtx(ctx);
    expect(touched.steps.every((s) => s.cached)).toBe(true);
    writeFileSync(join(ctx, 'b/c.txt'), 'gammA');
    const changed = await buildCtx(ctx);
    expect(changed.steps.map((s) => s.cached)).toEqual([true, true, true, false, false]);
    const diff = changed.manifest.layers.filter((l, i) => l.digest !== first.manifest.layers[i]!.digest);
    expect(diff).toHaveLength(1);
  });

  it('--no-cache rebuilds every layer step yet gives the same digest', async () => {
    const ctx = writeTree(tempDir('nocache'), { ...files, Dockerfile: dockerfile() });
    const first = await buildCtx(ctx);
    const fresh = await buildCtx(ctx, ['--no-cache']);
    expect(fresh.steps.filter((s) => s.cached)).toEqual([fresh.steps[0]]);
    expect(fresh.digest).toBe(first.digest);
  });
});

describe('kiln build: several platforms (an image index)', () => {
  interface IndexDoc {
    mediaType: string;
    manifests: { mediaType: string; digest: string; size: number; platform: { os: string; architecture: string; variant?: string } }[];
  }
  const platforms = 'linux/amd64,linux/arm64,linux/arm/v7';
  let multiBase: string;

  beforeAll(async () => {
    // A base image with one manifest per platform, each holding its own /arch file.
    const ctx = writeTree(tempDir('multi-base'), {
      Dockerfile: 'FROM scratch\nARG TARGETARCH\nARG TARGETVARIANT\nCOPY arch-${TARGETARCH}${TARGETVARIANT}.txt /arch\n',
      'arch-amd64.txt': 'amd64\n',
      'arch-arm64.txt': 'arm64\n',
      'arch-armv7.txt': 'arm v7\n',
    });
    multiBase = join(work, 'multi-base-layout');
    const r = await kiln(['build', '--store', store, '--progress', 'quiet', '--platform', platforms, '--output', `type=oci,dest=${multiBase}`, ctx]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  itNeeding(tools('skopeo'), 'builds each platform from its own base and names an index over them, which skopeo reads', async () => {
    const ctx = writeTree(tempDir('multi'), {
      Dockerfile: `FROM oci-layout://${multiBase}\nARG TARGETPLATFORM\nLABEL built.for=$TARGETPLATFORM\nCOPY app.txt /app.txt\n`,
      'app.txt': 'app\n',
    });
    const layout = join(work, 'multi-layout');
    const meta = join(work, 'multi-meta.json');
    const r = await kiln(['build', '--store', store, '--progress', 'plain', '--platform', platforms, '-t', 'kiln-test/multi:1',
      '--metadata-file', meta, '--output', `type=oci,dest=${layout}`, ctx]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('[linux/arm64 stage-0 3/4] LABEL built.for=$TARGETPLATFORM');
    expect(r.stderr).toMatch(/writing image index sha256:[0-9a-f]{64} done \(3 platforms\)/);
    const metadata = JSON.parse(readFileSync(meta, 'utf8'));
    const s = await openStore(store);
    const index = await s.readJson<IndexDoc>(metadata['containerimage.digest']);
    expect(index.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    expect(index.manifests.map((m) => m.platform)).toEqual([
      { os: 'linux', architecture: 'amd64' },
      { os: 'linux', architecture: 'arm64' },
      { os: 'linux', architecture: 'arm', variant: 'v7' },
    ]);
    expect(metadata['containerimage.config.digest']).toBeUndefined();
    expect(metadata['kiln.platforms'].map((p: { platform: string }) => p.platform)).toEqual(platforms.split(','));
    expect(await s.getRef('docker.io/kiln-test/multi:1')).toBe(metadata['containerimage.digest']);

    // Each platform's image: its own config, and the base layer of its own platform.
    const baseIndex = JSON.parse(readFileSync(join(multiBase, 'blobs/sha256', JSON.parse(readFileSync(join(multiBase, 'index.json'), 'utf8')).manifests[0].digest.slice(7)), 'utf8')) as IndexDoc;
    for (const [i, entry] of index.manifests.entries()) {
      const manifest = await s.readJson<ImageManifest>(entry.digest);
      const config = await s.readJson<ImageConfig>(manifest.config.digest);
      expect({ os: config.os, architecture: config.architecture, ...(config.variant ? { variant: config.variant } : {}) }).toEqual(entry.platform);
      expect(config.config?.Labels?.['built.for']).toBe(platforms.split(',')[i]);
      const baseManifest = JSON.parse(readFileSync(join(multiBase, 'blobs/sha256', baseIndex.manifests[i]!.digest.slice(7)), 'utf8')) as ImageManifest;
      expect(manifest.layers[0]!.digest).toBe(baseManifest.layers[0]!.digest);
    }

    const raw = JSON.parse(execFileSync('skopeo', ['inspect', '--raw', `oci:${layout}:1`], { encoding: 'utf8' })) as IndexDoc;
    expect(raw.manifests).toHaveLength(3);
    const arm = JSON.parse(execFileSync('skopeo', ['inspect', '--override-arch', 'arm64', `oci:${layout}:1`], { encoding: 'utf8' })) as { Architecture: string; Labels: Record<string, string> };
    expect(arm).toMatchObject({ Architecture: 'arm64', Labels: { 'built.for': 'linux/arm64' } });
    if (haveNow([OCI_SCHEMAS], 'validating the index against the OCI schemas')) {
      expect(validateOciDocument('application/vnd.oci.image.index.v1+json', index)).toMatchObject({ valid: true });
    }

    // Reproducible: a rebuild hits every step and names the same index.
    const again = await kiln(['build', '--store', store, '--progress', 'plain', '--platform', platforms, '--metadata-file', meta, ctx]);
    expect(again.code).toBe(0);
    const second = JSON.parse(readFileSync(meta, 'utf8'));
    expect(second['containerimage.digest']).toBe(metadata['containerimage.digest']);
    expect(second['kiln.steps'].every((step: { cached: boolean }) => step.cached)).toBe(true);
  });

  it('warns when a single-platform base is for another platform, as BuildKit does', async () => {
    const ctx = writeTree(tempDir('multi-mismatch'), { Dockerfile: `${fromBase()}\nCOPY a.txt /a.txt\n`, 'a.txt': 'a\n' });
    const r = await kiln(['build', '--store', store, '--progress', 'plain', '--platform', 'linux/amd64,linux/arm64', ctx]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/WARNING: InvalidBaseImagePlatform: Base image oci-layout:\/\/\S+ was pulled with platform "linux\/amd64", expected "linux\/arm64" for current build \(line 1\)/);
    expect(r.stderr.match(/InvalidBaseImagePlatform/g)).toHaveLength(1);
  });

  it('refuses a docker archive output, a platform named twice and an empty entry, before building', async () => {
    const ctx = writeTree(tempDir('multi-bad'), { Dockerfile: 'FROM scratch\nCOPY a.txt /\n', 'a.txt': 'a\n' });
    const docker = await kiln(['build', '--store', store, '--platform', 'linux/amd64,linux/arm64', '--output', `type=docker,dest=${join(work, 'x.tar')}`, ctx]);
    expect(docker.code).toBe(1);
    expect(docker.stderr).toMatch(/type=docker holds one platform, but the build is for linux\/amd64,linux\/arm64: use --output type=oci/);
    expect(existsSync(join(work, 'x.tar'))).toBe(false);
    const twice = await kiln(['build', '--store', store, '--platform', 'linux/arm64,linux/arm64/v8', ctx]);
    expect(twice.stderr).toMatch(/platform linux\/arm64 is named twice/);
    const empty = await kiln(['build', '--store', store, '--platform', 'linux/amd64,,linux/arm64', ctx]);
    expect(empty.stderr).toMatch(/invalid platform list "linux\/amd64,,linux\/arm64": an empty entry/);
  });
});

describe('kiln build: COPY and ADD semantics', () => {
  itNeeding(tools('umoci'), 'multi-stage with --target, COPY --from a stage, wildcards and ADD of a local tar.gz', async () => {
    const ctx = writeTree(tempDir('ms'), {
      Dockerfile: [
        `${fromBase()} AS one`,
        'COPY *.txt /stuff/',
        `${fromBase()} AS two`,
        'ADD archive.tar.gz /unpacked/',
        'FROM one AS final',
        'COPY --from=two /unpacked/ /from-two/',
        'COPY --from=0 /stuff/x.txt /renamed.txt',
        `${fromBase()} AS unused`,
        'COPY missing /nope',
      ].join('\n'),
      'x.txt': 'x', 'y.txt': 'y', 'z.md': 'z',
      'src/inner/file': 'from the archive',
    });
    execFileSync('tar', ['-czf', join(ctx, 'archive.tar.gz'), '-C', join(ctx, 'src'), '.']);
    const layout = join(work, 'ms-layout');
    const r = await kiln(['build', '--store', store, '-q', '--target', 'final', '-t', 'ms:1', '-o', `type=oci,dest=${layout}`, ctx]);
    expect(r.stderr).toBe('');
    const bundle = join(work, 'ms-bundle');
    execFileSync('umoci', ['unpack', '--image', `${layout}:1`, bundle], { stdio: 'pipe' });
    const root = join(bundle, 'rootfs');
    expect(readdirSync(join(root, 'stuff')).sort()).toEqual(['x.txt', 'y.txt']);
    expect(readFileSync(join(root, 'from-two/inner/file'), 'utf8')).toBe('from the archive');
    expect(readFileSync(join(root, 'renamed.txt'), 'utf8')).toBe('x');
  });

  itNeeding(tools('umoci'), 'heredoc COPY expands variables but keeps the quotes, unless the delimiter is quoted', async () => {
    const ctx = writeTree(tempDir('heredoc'), {
      Dockerfile: `${fromBase()}\nENV NAME=kiln\nCOPY <<EOF /greeting.sh\necho "hello $NAME" 'single' \\$HOME\nEOF\nCOPY <<-"RAW" /raw.txt\n\t"$NAME"\n\tRAW\n`,
    });
    const layout = join(work, 'heredoc-layout');
    expect((await kiln(['build', '--store', store, '-q', '-t', 'hd:1', '-o', `type=oci,dest=${layout}`, ctx])).code).toBe(0);
    const bundle = join(work, 'heredoc-bundle');
    execFileSync('umoci', ['unpack', '--image', `${layout}:1`, bundle], { stdio: 'pipe' });
    expect(readFileSync(join(bundle, 'rootfs/greeting.sh'), 'utf8')).toBe(`echo "hello kiln" 'single' $HOME\n`);
    expect(readFileSync(join(bundle, 'rootfs/raw.txt'), 'utf8')).toBe('"$NAME"\n');
  });

  it('ADD <url> with --checksum downloads and verifies', async () => {
    const body = 'downloaded bytes\n';
    const sum = `sha256:${createHash('sha256').update(body).digest('hex')}`;
    const server: Server = createServer((_req, res) => res.end(body));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const ok = writeTree(tempDir('url'), { Dockerfile: `${fromBase()}\nADD --checksum=${sum} http://127.0.0.1:${port}/files/data.txt /dl/\n` });
      const b = await buildCtx(ok);
      expect(b.code).toBe(0);
      const bad = writeTree(tempDir('url-bad'), { Dockerfile: `${fromBase()}\nADD --checksum=sha256:${'0'.repeat(64)} http://127.0.0.1:${port}/x /x\n` });
      const r = await kiln(['build', '--store', store, '-q', bad]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/Dockerfile:2: ADD http:\/\/127\.0\.0\.1:\d+\/x: checksum mismatch/);
    } finally {
      server.close();
    }
  });
});

describe('kiln build: bad input is a clear error with file:line, and the store stays intact', () => {
  const cases: [string, Record<string, string | { symlink: string }>, RegExp][] = [
    ['missing file', { Dockerfile: 'FROM scratch\nCOPY nope /x\n' }, /^error: Dockerfile:2: COPY failed: file not found in build context or excluded by \.dockerignore: "nope"/],
    ['../ source', { Dockerfile: 'FROM scratch\nCOPY ../secret /x\n' }, /Dockerfile:2: COPY failed: forbidden path outside the build context: "\.\.\/secret"/],
    ['absolute source missing', { Dockerfile: 'FROM scratch\nCOPY /etc/passwd /x\n' }, /Dockerfile:2: COPY failed: file not found in build context/],
    ['symlink pointing out', { Dockerfile: 'FROM scratch\nCOPY evil /x\n', evil: { symlink: '../../../etc/passwd' } }, /Dockerfile:2: COPY failed: "evil" leads outside the build context through a symlink/],
    ['unknown --from', { Dockerfile: 'FROM scratch\nCOPY --from=nostage /a /b\n' }, /Dockerfile:2: --from=nostage: no stage has this name, and as an image: not contacting registry docker\.io: Kiln is offline/],
    ['cycle', { Dockerfile: 'FROM scratch AS a\nCOPY --from=b /x /x\nFROM scratch AS b\nCOPY --from=a /y /y\n' }, /circular dependency detected on stage/],
    ['RUN without a shell in the image', { Dockerfile: 'FROM scratch\nRUN echo hi\n' }, /^error: Dockerfile:2: process "\/bin\/sh -c echo hi" did not complete successfully: exit code: \d+ \(in: RUN echo hi\)\n\s+last output:\n.*stat \/bin\/sh: no such file or directory/],
    ['not local FROM', { Dockerfile: 'FROM nginx:1.27\n' }, /^error: Dockerfile:1: not contacting registry docker\.io: Kiln is offline/],
    ['bad chmod', { Dockerfile: 'FROM scratch\nCOPY --chmod=rwx Dockerfile /x\n' }, /Dockerfile:2: invalid chmod parameter "rwx"/],
    ['unknown user', { Dockerfile: 'FROM scratch\nCOPY --chown=ghost Dockerfile /x\n' }, /Dockerfile:2: unable to find user ghost/],
  ];
  it.each(cases)('%s', async (_name, files, message) => {
    const ctx = writeTree(tempDir('bad'), files);
    const r = await kiln(['build', '--store', store, '-q', ctx]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('an unknown --target lists the stages', async () => {
    const ctx = writeTree(tempDir('target'), { Dockerfile: 'FROM scratch AS build\nFROM scratch AS release\n' });
    const r = await kiln(['build', '--store', store, '-q', '--target', 'test', ctx]);
    expect(r.stderr).toBe('error: target stage "test" could not be found in Dockerfile; the named stages are: build, release\n');
  });

  itNeeding(tools('python3'), 'an ADD of a tar with ../ entries is refused and nothing escapes', async () => {
    const ctx = writeTree(tempDir('evil-tar'), { Dockerfile: 'FROM scratch\nADD evil.tar /x/\n' });
    const script = 'import tarfile, io, sys\nt = tarfile.open(sys.argv[1], "w")\ni = tarfile.TarInfo("../../escaped")\ni.size = 1\nt.addfile(i, io.BytesIO(b"a"))\nt.close()\n';
    execFileSync('python3', ['-c', script, join(ctx, 'evil.tar')]);
    const r = await kiln(['build', '--store', store, '-q', ctx]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Dockerfile:2: .*escaped/);
    expect(existsSync(join(ctx, '..', 'escaped'))).toBe(false);
  });

  it('an unwritable store is a clear error', async () => {
    // As root a read-only mode stops nothing, so the build runs as nobody against a root-owned store.
    const ro = tempDir('ro');
    const ctx = writeTree(tempDir('x'), { Dockerfile: 'FROM scratch\n' });
    for (const dir of [ro, ctx]) chmodSync(dir, 0o755);
    const asNobody = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    const child = spawn(process.execPath, [kilnBin, 'build', '--store', join(ro, 'store'), '-q', ctx], { ...asNobody, env: { ...process.env, HOME: '/tmp' } });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d));
    const code = await new Promise((r) => child.on('close', r));
    expect(code).toBe(1);
    expect(err).toMatch(/^error: .*permission denied.*store/i);
    expect(err.trim().split('\n')).toHaveLength(1);
  });

  it('Ctrl-C in the middle of a build leaves nothing half-written, and the next build succeeds', async () => {
    const ctx = writeTree(tempDir('sigint'), { Dockerfile: 'FROM scratch\nCOPY big/ /big/\nLABEL after=copy\n' });
    const { mkdirSync: mk } = await import('node:fs');
    mk(join(ctx, 'big'));
    for (let i = 0; i < 40; i++) writeFileSync(join(ctx, 'big', `f${i}`), createHash('sha512').update(String(i)).digest().toString('hex').repeat(16 * 1024));
    const interrupted = join(work, 'sigint-store');
    // SIGINT is what Ctrl-C sends; a shell that started this test run in the background may have
    // set it to "ignored" for every child, so SIGTERM (same default action) stands in then.
    const signal = process.env.KILN_TEST_SIGNAL === 'SIGINT' ? 'SIGINT' : 'SIGTERM';
    const child = spawn(process.execPath, [kilnBin, 'build', '--store', interrupted, '--progress', 'plain', '-t', 'sigint:1', ctx]);
    let stderr = '';
    await new Promise<void>((r) => child.stderr.on('data', (d: Buffer) => ((stderr += d), stderr.includes('COPY big/') && r())));
    await new Promise((r) => setTimeout(r, 150));
    child.kill(signal);
    const code = await new Promise((r) => child.on('close', (c, sig) => r(sig ?? c)));
    // kiln stops the build cleanly and exits as a shell reports a signal: 128 + its number.
    expect({ code, stderr }).toMatchObject({ code: signal === 'SIGINT' ? 130 : 143 });
    const s = await openStore(interrupted);
    expect(await s.listRefs()).toEqual([]);
    expect((await s.verify()).corrupt).toEqual([]);
    const again = await kiln(['build', '--store', interrupted, '-q', '-t', 'sigint:1', ctx]);
    expect(again.code).toBe(0);
    expect(await s.getRef('docker.io/library/sigint:1')).toMatch(/^sha256:/);
  });

  it('the store verifies after all of the above', async () => {
    const report = await (await openStore(store)).verify();
    expect(report.corrupt).toEqual([]);
    expect(report.checked).toBeGreaterThan(5);
  });
});

describe('kiln build: concurrency', () => {
  it('4 kiln processes building different Dockerfiles into one store all succeed', async () => {
    const shared = join(work, 'shared-store');
    const contexts = [0, 1, 2, 3].map((i) =>
      writeTree(tempDir(`conc${i}`), {
        Dockerfile: `${fromBase()}\nCOPY f${i} /f\nCOPY common /common\nLABEL n=${i}\n`,
        [`f${i}`]: `file ${i}`.repeat(1000 * (i + 1)),
        common: 'same in all four',
      }),
    );
    const runs = await Promise.all(contexts.map((ctx, i) => kilnProcess(['build', '--store', shared, '-q', '-t', `conc:${i}`, ctx])));
    for (const r of runs) expect(r).toMatchObject({ code: 0 });
    const s = await openStore(shared);
    expect((await s.listRefs()).map((r) => r.ref)).toEqual([0, 1, 2, 3].map((i) => `docker.io/library/conc:${i}`));
    expect((await s.verify()).corrupt).toEqual([]);
  });
});
