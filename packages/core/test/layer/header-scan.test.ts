// scanTarHeaders (headers of an uncompressed tar read by seeking past the bodies) against the
// streaming reader, on archives GNU tar writes in its formats (long names, links, pax records,
// sparse-free bodies of every size), and on damaged files, which it leaves to the reader.
import { spawnSync } from 'node:child_process';
import { createReadStream, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, linkSync, truncateSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { layerHeaders } from '../../src/layer/fs-index.js';
import { scanTarHeaders } from '../../src/layer/header-scan.js';

const streamed = (file: string) => layerHeaders({ open: () => createReadStream(file), compression: 'none' });

describe('scanTarHeaders', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-header-scan-'));
    const tree = join(dir, 'tree');
    const long = join(tree, 'a'.repeat(90), 'b'.repeat(90));
    mkdirSync(long, { recursive: true });
    writeFileSync(join(long, `${'c'.repeat(120)}.txt`), 'long name\n');
    for (const size of [0, 1, 511, 512, 513, 70_000]) writeFileSync(join(tree, `f${size}`), Buffer.alloc(size, 7));
    symlinkSync('x'.repeat(150), join(tree, 'long-link'));
    symlinkSync('f1', join(tree, 'short-link'));
    linkSync(join(tree, 'f513'), join(tree, 'hard'));
    writeFileSync(join(tree, 'ünïcødé'), 'u');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const format of ['gnu', 'posix', 'ustar']) {
    it(`reads what the streaming reader reads, from GNU tar's ${format} format`, async () => {
      const file = join(dir, `${format}.tar`);
      const r = spawnSync('tar', ['-c', '-f', file, `--format=${format}`, '--sort=name', '-C', join(dir, 'tree'), '.'], { encoding: 'utf8' });
      // ustar cannot hold some of the long names: tar says so and leaves them out.
      if (format !== 'ustar') expect(r.status).toBe(0);
      const scanned = scanTarHeaders(file);
      expect(scanned).toBeDefined();
      expect(scanned).toEqual(await streamed(file));
      expect(scanned!.map((h) => h.path)).toContain('short-link');
    });
  }

  it('leaves a truncated or damaged archive to the streaming reader', () => {
    const file = join(dir, 'gnu.tar');
    const truncated = join(dir, 'truncated.tar');
    writeFileSync(truncated, readFileSync(file));
    truncateSync(truncated, Math.floor(statSync(file).size / 2));
    expect(scanTarHeaders(truncated)).toBeUndefined();
    const damaged = join(dir, 'damaged.tar');
    const bytes = readFileSync(file);
    bytes[600] = bytes[600]! ^ 0xff; // inside the second header's name
    writeFileSync(damaged, bytes);
    expect(scanTarHeaders(damaged)).toBeUndefined();
  });
});
