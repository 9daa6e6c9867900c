import { mkdtempSync, utimesSync, writeFileSync, mkdirSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContextDigests, walkContext } from '../../src/context/walk.js';
import { IgnoreMatcher } from '../../src/context/dockerignore.js';
import { openStore } from '../../src/store/store.js';

function context(): string {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-walk-'));
  mkdirSync(join(dir, 'src/deep'), { recursive: true });
  mkdirSync(join(dir, 'node_modules/x'), { recursive: true });
  writeFileSync(join(dir, 'src/a.js'), 'a');
  writeFileSync(join(dir, 'src/deep/b.js'), 'b');
  writeFileSync(join(dir, 'node_modules/x/index.js'), 'x');
  writeFileSync(join(dir, 'node_modules/x/keep.md'), 'keep');
  symlinkSync('src/a.js', join(dir, 'link'));
  return dir;
}

describe('context walk', () => {
  it('lists what .dockerignore keeps, sorted, descending into excluded dirs only for ! exceptions', async () => {
    const dir = context();
    const plain = await walkContext(dir, new IgnoreMatcher(['node_modules']));
    expect(plain.map((e) => e.path)).toEqual(['link', 'src', 'src/a.js', 'src/deep', 'src/deep/b.js']);
    expect(plain.find((e) => e.path === 'link')).toMatchObject({ type: 'symlink', linkTarget: 'src/a.js' });
    const withException = await walkContext(dir, new IgnoreMatcher(['node_modules', '!node_modules/x/keep.md']));
    expect(withException.map((e) => e.path)).toContain('node_modules/x/keep.md');
    expect(withException.map((e) => e.path)).not.toContain('node_modules/x/index.js');
  });

  it('re-reads only files whose inode, size or mtime changed, across runs', async () => {
    const dir = context();
    const store = await openStore(mkdtempSync(join(tmpdir(), 'kiln-walk-store-')));
    const digestAll = async () => {
      const digests = await ContextDigests.load(store, dir);
      const entries = (await walkContext(dir, new IgnoreMatcher([]))).filter((e) => e.type === 'file');
      const values = await Promise.all(entries.map((e) => digests.digest(e)));
      await digests.save();
      return { rereads: digests.rereads, values };
    };
    const first = await digestAll();
    expect(first.rereads).toBe(4);
    const second = await digestAll();
    expect(second).toEqual({ rereads: 0, values: first.values });
    utimesSync(join(dir, 'src/a.js'), new Date(), new Date(Date.now() + 10_000));
    const touched = await digestAll();
    expect(touched).toEqual({ rereads: 1, values: first.values });
  });
});
