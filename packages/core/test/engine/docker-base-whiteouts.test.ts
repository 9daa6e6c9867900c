/**
 * A base image made by docker 20.10 (overlay2) whose layers delete files: docker writes those
 * whiteouts as regular files that still carry the linkname of an earlier entry (the overlayfs
 * whiteout devices are hardlinks of one another), which node-tar refuses. Kiln must still honour
 * them: in its view of the base (COPY --from) and in what it builds on top (FROM), the deleted
 * files stay deleted, exactly as in the same Dockerfile built by docker.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeBaseImages } from '../helpers/base-images.js';
import { describeWithDocker, dockerBuild, dockerLoad, useDockerd } from '../helpers/dockerd.js';
import { compareImages, formatTree } from '../helpers/image-tree.js';
import { kiln, writeTree } from './kiln-helpers.js';

const BASE = 'kiln-test/with-whiteouts';

/** Non-link headers with a linkname in the layers of a `docker save` archive (both tars walked raw). */
function strayLinknames(archive: Buffer): string[] {
  const found: string[] = [];
  const walk = (tar: Buffer, onFile: (name: string, body: Buffer) => void): void => {
    for (let off = 0; off + 512 <= tar.length; ) {
      const h = tar.subarray(off, off + 512);
      if (h.every((b) => b === 0)) {
        off += 512;
        continue;
      }
      const field = (start: number, len: number) => h.subarray(start, start + len).toString('latin1').replace(/\0.*$/s, '');
      const type = field(156, 1) || '0';
      const size = parseInt(field(124, 12).trim() || '0', 8);
      const prefix = field(345, 155);
      const name = prefix ? `${prefix}/${field(0, 100)}` : field(0, 100);
      if (type !== '1' && type !== '2' && type !== 'x' && type !== 'g' && field(157, 100)) found.push(`${name} -> ${field(157, 100)}`);
      if (type === '0') onFile(name, tar.subarray(off + 512, off + 512 + size));
      off += 512 + Math.ceil(size / 512) * 512;
    }
  };
  walk(archive, (name, body) => {
    if (name.endsWith('/layer.tar')) walk(body, () => undefined);
  });
  return found;
}

describeWithDocker('a docker-made base image with whiteouts', () => {
  const env = useDockerd();
  let tmp: string;

  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'kiln-docker-wh-'));
  });
  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('keeps files deleted in the base deleted (FROM and COPY --from), as docker does', async () => {
    const d = env.dockerd;
    await makeBaseImages(d, join(tmp, 'base'));

    // The base: an upper layer with whiteouts and an opaque directory (/d had 'old' below; it is
    // removed and made again). Several deletions: the whiteout devices are hardlinks of one
    // another, and only the second and later ones come out with a stray linkname (that of the
    // first: 'bin/.wh.vi' and 'etc/.wh.group' -> 'bin/diff'); a lone `rm /etc/group` has none.
    const baseCtx = writeTree(join(tmp, 'base-ctx'), {
      Dockerfile: [
        'FROM kiln-test/busybox',
        'RUN mkdir -p /d && touch /d/old',
        'RUN rm /etc/group /bin/vi /bin/diff && mkdir -p /d && touch /d/x && rm -rf /d && mkdir /d && touch /d/y',
        '',
      ].join('\n'),
    });
    const built = await dockerBuild(d, { contextDir: baseCtx, tag: BASE });
    if (built.code !== 0) throw new Error(`docker build of ${BASE} failed:\n${built.stderr}`);
    const saved = join(tmp, 'with-whiteouts.tar');
    await d.dockerOk(['save', '-o', saved, BASE]);
    // The quirk this is about is really there: whiteouts with a linkname.
    expect(strayLinknames(readFileSync(saved)).filter((s) => s.includes('.wh.'))).not.toEqual([]);

    // The same Dockerfile with Kiln and with docker.
    const store = join(tmp, 'store');
    const loaded = await kiln(['load', '--store', store, '-i', saved]);
    expect(loaded).toMatchObject({ code: 0 });
    const ctx = writeTree(join(tmp, 'ctx'), {
      Dockerfile: `FROM ${BASE}\nCOPY --from=${BASE} /etc/ /etc-copy/\nCOPY f /f\n`,
      f: 'f\n',
    });
    const out = join(tmp, 'out.tar');
    const r = await kiln(['build', '--store', store, '-q', '-t', 'x:1', '--output', `type=docker,dest=${out}`, ctx]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    await dockerLoad(d, out);
    const ref = await dockerBuild(d, { contextDir: ctx, tag: 'kiln-test/with-whiteouts-child:docker' });
    if (ref.code !== 0) throw new Error(`docker build of the child image failed:\n${ref.stderr}`);

    const cmp = await compareImages(d, 'kiln-test/with-whiteouts-child:docker', 'x:1', { tree: 'layers', labels: ['docker', 'kiln'] });
    expect([...cmp.configDiff, ...cmp.treeDiff]).toEqual([]);
    const paths = cmp.b.tree.map((e) => e.path);
    expect(paths).not.toContain('/etc/group');
    expect(paths).not.toContain('/etc-copy/group');
    expect(paths).toContain('/etc-copy/passwd');
    expect(paths).not.toContain('/bin/vi');
    expect(paths.filter((p) => p.startsWith('/d/'))).toEqual(['/d/y']);
    expect(formatTree(cmp.b.tree)).toContain('/f file 2B');
  }, 90_000);
});
