// kiln build end to end for what docker 20.10's BuildKit (the differential oracle here) cannot
// check, taken from BuildKit's current behaviour instead: COPY --exclude and --parents (dockerfile
// 1.19/1.20; cases from BuildKit's exclude_patterns_test.go and dockerfile_parents_test.go),
// symbolic --chmod (1.14), ADD --unpack=true of a URL (1.17), --checksum as BuildKit reads it,
// EXPOSE of several ports in one variable and of host:container forms, and duplicate stage names.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { kiln, makeBaseLayout, tempDir, writeTree, type FileSpec } from './kiln-helpers.js';
import { openStore } from '../../src/store/store.js';
import { buildFsIndex, readFileFromLayers, type FsIndex, type LayerSource } from '../../src/layer/index.js';
import { layerCompression } from '../../src/oci/media-types.js';
import type { ImageConfig, ImageManifest } from '../../src/oci/types.js';

const work = tempDir('copy-flags');
const store = join(work, 'store');
let base: string;

beforeAll(async () => {
  base = await makeBaseLayout(work, store);
});

const fromBase = () => `FROM oci-layout://${base}:latest`;

interface Image {
  config: ImageConfig;
  files: FsIndex;
  layers: LayerSource[];
  stderr: string;
}

async function build(files: Record<string, FileSpec>, extra: string[] = []): Promise<Image> {
  const ctx = writeTree(tempDir('ctx'), files);
  const meta = join(ctx, '..', `${Math.random().toString(36).slice(2)}.json`);
  const r = await kiln(['build', '--store', store, '--progress', 'plain', '--metadata-file', meta, ...extra, ctx]);
  if (r.code !== 0) throw new Error(r.stderr);
  const m = JSON.parse(readFileSync(meta, 'utf8'));
  const s = await openStore(store);
  const manifest = await s.readJson<ImageManifest>(m['containerimage.digest']);
  const config = await s.readJson<ImageConfig>(manifest.config.digest);
  const layers = manifest.layers.map((l) => ({ open: () => s.openBlob(l.digest), compression: layerCompression(l.mediaType)! }));
  return { config, files: await buildFsIndex(layers), layers, stderr: r.stderr };
}

async function fails(files: Record<string, FileSpec>, extra: string[] = []): Promise<string> {
  const ctx = writeTree(tempDir('ctx'), files);
  const r = await kiln(['build', '--store', store, '-q', ...extra, ctx]);
  expect(r.code).toBe(1);
  return r.stderr;
}

/** Paths under `dir` (without it), sorted, with `/` after directories. */
function under(img: Image, dir: string): string[] {
  return [...img.files.values()]
    .filter((e) => e.path.startsWith(`${dir}/`))
    .map((e) => e.path.slice(dir.length + 1) + (e.type === 'dir' ? '/' : ''))
    .sort();
}

const mode = (img: Image, path: string) => img.files.get(path)?.mode.toString(8);
const content = async (img: Image, path: string) => (await readFileFromLayers(img.layers, path))?.toString('utf8');

/** The context of BuildKit's testExcludedFilesOnCopy. */
const excludeContext: Record<string, FileSpec> = {
  'dir1/file-101.png': '2', 'dir1/file-102.txt': '3', 'dir1/file-103.jpeg': '4',
  'dir2/file-201.pdf': '6', 'dir2/file-202.jpeg': '7', 'dir2/file-203.png': '8',
  'dir3/file-301.mp3': '9', 'dir3/file-302.mpeg': '10',
  'dir4/file-401.txt': '11', 'dir4/file-402.txt': { symlink: 'file-401.txt' }, 'dir4/file-403.txt': { symlink: 'file-404.txt' },
};

describe('COPY --exclude / ADD --exclude (BuildKit testExcludedFilesOnCopy)', () => {
  it('patterns match paths below each source directory, relative to it; a wildcard source is each directory it matches', async () => {
    const img = await build({
      ...excludeContext,
      Dockerfile: [
        fromBase(),
        'COPY --exclude=*/*.png --exclude=*/*.jpeg dir1 dir2 dir3 dir4 /ignored-by-subdir/',
        'COPY --exclude=*/*.png --exclude=*/*.jpeg . /1',
        'COPY --exclude=*/*.pdf --exclude=*/*.txt . /2',
        'ADD --exclude=*.mp3 dir3/ /3/',
        'COPY --exclude=*.mp3 --exclude=*.jpeg --exclude=*.png --exclude=*.pdf --exclude=*.txt dir* /4/',
        'ADD --exclude=*.mp* --exclude=*.jpeg --exclude=*.png --exclude=*.pdf dir* /5',
        'ADD --exclude=* dir* /6',
      ].join('\n'),
    });
    expect(under(img, '1')).toEqual([
      'Dockerfile', 'dir1/', 'dir1/file-102.txt', 'dir2/', 'dir2/file-201.pdf', 'dir3/', 'dir3/file-301.mp3', 'dir3/file-302.mpeg',
      'dir4/', 'dir4/file-401.txt', 'dir4/file-402.txt', 'dir4/file-403.txt',
    ]);
    expect(under(img, '2')).toEqual([
      'Dockerfile', 'dir1/', 'dir1/file-101.png', 'dir1/file-103.jpeg', 'dir2/', 'dir2/file-202.jpeg', 'dir2/file-203.png',
      'dir3/', 'dir3/file-301.mp3', 'dir3/file-302.mpeg', 'dir4/',
    ]);
    expect(under(img, '3')).toEqual(['file-302.mpeg']);
    expect(under(img, '4')).toEqual(['file-302.mpeg']);
    expect(under(img, '5')).toEqual(['file-102.txt', 'file-401.txt', 'file-402.txt', 'file-403.txt']);
    expect(img.files.get('5/file-402.txt')).toMatchObject({ type: 'symlink', linkTarget: 'file-401.txt' });
    expect(await content(img, '4/file-302.mpeg')).toBe('10');
    // Everything excluded: the destination is still made.
    expect(img.files.get('6')?.type).toBe('dir');
    expect(under(img, '6')).toEqual([]);
  });

  it('** reaches any depth; ! re-includes, and the excluded directories above it are copied for it', async () => {
    const img = await build({
      'src/a.log': 'a', 'src/keep.txt': 'k', 'src/deep/er/b.log': 'b', 'src/deep/er/c.txt': 'c',
      'src/cache/x': 'x', 'src/cache/important': 'i',
      Dockerfile: `${fromBase()}\nCOPY --exclude=**/*.log --exclude=cache --exclude=!cache/important src /app/\n`,
    });
    expect(under(img, 'app')).toEqual(['cache/', 'cache/important', 'deep/', 'deep/er/', 'deep/er/c.txt', 'keep.txt']);
  });

  it('a file source is never matched itself (as in BuildKit, moby/buildkit#5489); patterns are not expanded', async () => {
    const img = await build({
      'a.txt': 'a', 'b.txt': 'b', 'd/$X.txt': 'literal', 'd/v.txt': 'v',
      Dockerfile: `${fromBase()}\nARG X=v\nCOPY --exclude=a.txt *.txt /top/\nCOPY --exclude=$X.txt d /d/\n`,
    });
    expect(under(img, 'top')).toEqual(['a.txt', 'b.txt']);
    expect(under(img, 'd')).toEqual(['v.txt']);
  });

  it('COPY --from=stage --exclude filters the stage files the same way', async () => {
    const img = await build({
      ...excludeContext,
      Dockerfile: `${fromBase()} AS files\nCOPY . /src/\n${fromBase()}\nCOPY --from=files --exclude=*.mp3 /src/dir3/ /3/\n`,
    });
    expect(under(img, '3')).toEqual(['file-302.mpeg']);
  });

  it('a malformed pattern is an error naming --exclude', async () => {
    expect(await fails({ 'd/a': 'a', Dockerfile: `${fromBase()}\nCOPY --exclude=[ d /d/\n` })).toMatch(
      /Dockerfile:2: invalid --exclude pattern "\[": syntax error in pattern/,
    );
  });
});

describe('COPY --parents (BuildKit testCopyParents, testCopyRelativeParents, testCopyParentsMissingDirectory)', () => {
  const tree: Record<string, FileSpec> = {
    'foo1/foo2/bar': { content: 'testing', mode: 0o600 },
    'foo1/foo2/baz': { content: 'testing2', mode: 0o600 },
    'x/a.txt': 'xa', 'y/a.txt': 'ya',
    'test/a/b/c/d/foo': '', 'test/a/b/c/d/e/bay': '', 'test/a/b2/c/d/e/bar': '', 'test/a/b/c2/d/e/baz': '', 'test/a/b/c2/d/e2/baz': '',
    'src/a.txt': '', 'src/x/b.txt': '', 'src/x/y/c.txt': '', 'src/x/y/d.md': '',
  };

  it('keeps each source path under the destination; the directories above keep their own modes', async () => {
    const img = await build({
      ...tree,
      'foo1': { dir: true, mode: 0o700 },
      'foo1/foo2': { dir: true, mode: 0o700 },
      Dockerfile: [
        fromBase(),
        'COPY --parents foo1/foo2/bar /',
        'WORKDIR /test2',
        'COPY --parents foo1/foo2/ba* .',
        'COPY ./x/a.txt ./y/a.txt /no_parents/',
        'COPY --parents ./x/a.txt ./y/a.txt /parents/',
        'COPY --parents ./src/**/*.txt /globstar/',
        'COPY --parents ./test/a/b/./c/d /pivot',
      ].join('\n'),
    });
    expect(await content(img, 'foo1/foo2/bar')).toBe('testing');
    expect(mode(img, 'foo1')).toBe('700');
    expect(mode(img, 'foo1/foo2')).toBe('700');
    expect(mode(img, 'foo1/foo2/bar')).toBe('600');
    expect(under(img, 'test2')).toEqual(['foo1/', 'foo1/foo2/', 'foo1/foo2/bar', 'foo1/foo2/baz']);
    expect(under(img, 'no_parents')).toEqual(['a.txt']);
    expect(under(img, 'parents')).toEqual(['x/', 'x/a.txt', 'y/', 'y/a.txt']);
    expect(under(img, 'globstar')).toEqual(['src/', 'src/a.txt', 'src/x/', 'src/x/b.txt', 'src/x/y/', 'src/x/y/c.txt']);
    expect(under(img, 'pivot')).toEqual(['c/', 'c/d/', 'c/d/e/', 'c/d/e/bay', 'c/d/foo']);
  });

  it('from a stage: pivots, several pivots, wildcards before and after the pivot', async () => {
    const img = await build({
      ...tree,
      Dockerfile: [
        `${fromBase()} AS base`,
        'COPY test /test/',
        fromBase(),
        'COPY --from=base --parents /test/a/b/./c/d /middle/',
        'COPY --from=base --parents /test/a/b/c/d/. /end/',
        'COPY --from=base --parents ./test/a/b/c/d /start/',
        'COPY --from=base --parents /test/a/./b/./c /double/',
        'COPY --from=base --parents /test/a/./*/c /wildcard/',
        'COPY --from=base --parents /test/a/b*/./c/**/e /doublewildcard/',
        'COPY --from=base --parents /test/a/b/c*/./d/**/baz /test/a/b*/./c/**/bar /doubleinputs/',
        'COPY --from=base --parents /test/a/b9*/c /wildcard-nonexistent/',
        'COPY --from=base --parents /test/a/b/./c2x* /wildcard-afterpivot/',
      ].join('\n'),
    });
    expect(under(img, 'middle')).toEqual(['c/', 'c/d/', 'c/d/e/', 'c/d/e/bay', 'c/d/foo']);
    expect(under(img, 'end')).toContain('test/a/b/c/d/foo');
    expect(under(img, 'start')).toContain('test/a/b/c/d/e/bay');
    expect(under(img, 'double')).toEqual(['b/', 'b/c/', 'b/c/d/', 'b/c/d/e/', 'b/c/d/e/bay', 'b/c/d/foo']);
    expect(under(img, 'wildcard')).toEqual(['b/', 'b/c/', 'b/c/d/', 'b/c/d/e/', 'b/c/d/e/bay', 'b/c/d/foo', 'b2/', 'b2/c/', 'b2/c/d/', 'b2/c/d/e/', 'b2/c/d/e/bar']);
    expect(under(img, 'doublewildcard')).toEqual(['c/', 'c/d/', 'c/d/e/', 'c/d/e/bar', 'c/d/e/bay']);
    expect(under(img, 'doubleinputs')).toEqual(['c/', 'c/d/', 'c/d/e/', 'c/d/e/bar', 'd/', 'd/e/', 'd/e/baz', 'd/e2/', 'd/e2/baz']);
    expect(img.files.get('wildcard-nonexistent')?.type).toBe('dir');
    expect(under(img, 'wildcard-nonexistent')).toEqual([]);
    expect(under(img, 'wildcard-afterpivot')).toEqual([]);
  });

  it('a path without wildcards must exist; --exclude applies below the parent', async () => {
    expect(await fails({ Dockerfile: `${fromBase()}\nCOPY --parents test/nonexistent-file /out/\n` })).toMatch(
      /Dockerfile:2: COPY failed: file not found in build context or excluded by \.dockerignore: "test\/nonexistent-file"/,
    );
    const img = await build({ ...tree, Dockerfile: `${fromBase()}\nCOPY --parents --exclude=**/y src/./x /out/\n` });
    expect(under(img, 'out')).toEqual(['x/', 'x/b.txt']);
  });
});

describe('--chmod: any octal up to 07777 and symbolic modes (dockerfile 1.14+)', () => {
  it('applies a symbolic mode to each entry\'s own mode, X to directories and executables', async () => {
    const img = await build({
      'app/run.sh': { content: '#!/bin/sh\n', mode: 0o755 },
      'app/conf.txt': { content: 'c', mode: 0o640 },
      'app/lib': { dir: true, mode: 0o700 },
      'one.txt': 'x',
      Dockerfile: [
        fromBase(),
        'COPY --chmod=u=rwX,go=rX app /sym/',
        'COPY --chmod=+x one.txt /plus-x.txt',
        'ARG MODE=g=u',
        'COPY --chmod=$MODE app/conf.txt /g-equals-u.txt',
        'COPY --chmod=7 one.txt /seven.txt',
        'COPY --chmod=00644 one.txt /five-digits.txt',
        'COPY --chmod=4755 one.txt /setuid.txt',
        'COPY --chmod=o+r <<EOF /heredoc.txt\nhi\nEOF',
      ].join('\n'),
    });
    expect(mode(img, 'sym/run.sh')).toBe('755');
    expect(mode(img, 'sym/conf.txt')).toBe('644');
    expect(mode(img, 'sym/lib')).toBe('755');
    expect(mode(img, 'plus-x.txt')).toBe('755');
    expect(mode(img, 'g-equals-u.txt')).toBe('660');
    expect(mode(img, 'seven.txt')).toBe('7');
    expect(mode(img, 'five-digits.txt')).toBe('644');
    // Current BuildKit keeps setuid/setgid/sticky from --chmod (docker 20.10's dropped them).
    expect(mode(img, 'setuid.txt')).toBe('4755');
    expect(mode(img, 'heredoc.txt')).toBe('644');
    expect(img.config.history!.some((h) => h.created_by!.includes('--chmod=u=rwX,go=rX'))).toBe(true);
  });

  it.each([
    ['10000', /invalid chmod parameter "10000": it should be an octal number between 0 and 07777/],
    ['9', /invalid chmod parameter "9": it should be an octal number/],
    ['rwx', /invalid chmod parameter "rwx": invalid syntax/],
  ])('--chmod=%s is refused as BuildKit refuses it', async (value, message) => {
    expect(await fails({ a: 'a', Dockerfile: `${fromBase()}\nCOPY --chmod=${value} a /a\n` })).toMatch(message);
  });
});

describe('EXPOSE as BuildKit reads it', () => {
  it('splits a variable holding several ports; keeps the container port of host:container forms, with ExposeInvalidFormat', async () => {
    const img = await build({
      Dockerfile: [
        fromBase(),
        'ARG PORTS="80 443/udp  8000-8001"',
        'EXPOSE $PORTS',
        'EXPOSE 8080:81 127.0.0.1:9090:82/udp [::1]:7000:83 :84 9000-9001:85',
        'EXPOSE 86/TCP',
      ].join('\n'),
    });
    expect(Object.keys(img.config.config!.ExposedPorts!).sort()).toEqual(
      ['443/udp', '80/tcp', '8000/tcp', '8001/tcp', '81/tcp', '82/udp', '83/tcp', '84/tcp', '85/tcp', '86/tcp'].sort(),
    );
    expect(img.stderr).toContain("WARNING: ExposeInvalidFormat: EXPOSE instruction should not define an IP address or host-port mapping, found '8080:81' (line 4)");
    expect(img.stderr).toContain("found '127.0.0.1:9090:82/udp'");
    expect(img.stderr).toContain("found '[::1]:7000:83'");
    expect(img.stderr).not.toContain("found ':84'");
    expect(img.stderr).toContain("WARNING: ExposeProtoCasing: Defined protocol '86/TCP' in EXPOSE instruction should be lowercase (line 5)");
  });

  it.each([
    ['80/xyz', /invalid port "80\/xyz" in EXPOSE: invalid proto: xyz/],
    ['/tcp', /invalid port "\/tcp" in EXPOSE: no port specified/],
    ['70000', /invalid containerPort: 70000/],
    ['90-80', /invalid containerPort: 90-80/],
    ['x:80', /invalid hostPort: x/],
    ['999.1.1.1:80:80', /invalid IP address: 999\.1\.1\.1/],
    ['8000-8002:80-81', /invalid ranges specified for container and host Ports: 80-81 and 8000-8002/],
  ])('EXPOSE %s fails as in BuildKit', async (port, message) => {
    expect(await fails({ Dockerfile: `${fromBase()}\nEXPOSE ${port}\n` })).toMatch(message);
  });
});

describe('duplicate stage names: a warning, and the stage BuildKit picks', () => {
  it('COPY --from and --target take the last stage of the name', async () => {
    const files = {
      'a.txt': 'first', 'b.txt': 'second',
      Dockerfile: [
        `${fromBase()} AS x`, 'COPY a.txt /which.txt',
        `${fromBase()} AS X`, 'COPY b.txt /which.txt',
        fromBase(), 'COPY --from=x /which.txt /got.txt',
      ].join('\n'),
    };
    const img = await build(files);
    expect(await content(img, 'got.txt')).toBe('second');
    expect(img.stderr).toMatch(/WARNING: Dockerfile:3: Duplicate stage name "x", stage names should be unique \(also used at line 1\)/);
    const target = await build(files, ['--target', 'X']);
    expect(await content(target, 'which.txt')).toBe('second');
  });

  it('COPY --from of a stage below the copying one fails, as in BuildKit', async () => {
    expect(await fails({ Dockerfile: `${fromBase()} AS a\nCOPY --from=b /x /x\n${fromBase()} AS b\n` }, ['--target', 'a'])).toMatch(
      /Dockerfile:2: cannot copy from stage "b", it needs to be defined before current stage "a"/,
    );
  });
});

describe('ADD of a URL', () => {
  let server: Server;
  let url: string;
  const body = 'downloaded bytes\n';
  let archive: Buffer;

  beforeAll(async () => {
    const src = writeTree(tempDir('tgz'), { 'pkg/bin/tool': { content: 'tool', mode: 0o755 }, 'pkg/README': 'r' });
    execFileSync('tar', ['-czf', join(src, 'a.tar.gz'), '-C', src, 'pkg']);
    archive = readFileSync(join(src, 'a.tar.gz'));
    server = createServer((req, res) => res.end(req.url === '/a.tar.gz' ? archive : body));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => server.close());

  it('--unpack=true extracts a downloaded archive; without it the archive is a file', async () => {
    const img = await build({ Dockerfile: `${fromBase()}\nADD --unpack=true ${url}/a.tar.gz /download/\nADD ${url}/a.tar.gz /kept/\n` });
    expect(under(img, 'download')).toEqual(['pkg/', 'pkg/README', 'pkg/bin/', 'pkg/bin/tool']);
    expect(mode(img, 'download/pkg/bin/tool')).toBe('755');
    expect(under(img, 'kept')).toEqual(['a.tar.gz']);
    const notArchive = await build({ Dockerfile: `${fromBase()}\nADD --unpack=true ${url}/data.txt /plain/\n` });
    expect(await content(notArchive, 'plain/data.txt')).toBe(body);
  });

  it('--checksum: sha384/sha512 are well-formed but never match in BuildKit (it hashes downloads with SHA-256); one source only', async () => {
    const sha384 = `sha384:${createHash('sha384').update(body).digest('hex')}`;
    expect(await fails({ Dockerfile: `${fromBase()}\nADD --checksum=${sha384} ${url}/data.txt /x\n` })).toMatch(
      /Dockerfile:2: ADD http:\S+: --checksum=sha384:\.\.\. can never match: BuildKit compares the SHA-256 digest of the download/,
    );
    expect(await fails({ Dockerfile: `${fromBase()}\nADD --checksum=sha512:abc ${url}/data.txt /x\n` })).toMatch(/invalid checksum digest length/);
    expect(await fails({ Dockerfile: `${fromBase()}\nADD --checksum=md5:${'0'.repeat(32)} ${url}/data.txt /x\n` })).toMatch(/unsupported digest algorithm/);
    expect(await fails({ Dockerfile: `${fromBase()}\nADD --checksum=sha256 ${url}/data.txt /x\n` })).toMatch(/invalid checksum digest format/);
    const sha256 = `sha256:${createHash('sha256').update(body).digest('hex')}`;
    expect(await fails({ Dockerfile: `${fromBase()}\nADD --checksum=${sha256} ${url}/data.txt ${url}/data.txt /x/\n` })).toMatch(
      /checksum can't be specified for multiple sources/,
    );
  });
});
