// A one-file change in a big COPY: the next build copies the unchanged entries from the step's
// last layer (layer/writer.ts's reuse), and the image is byte for byte the one a fresh store
// builds from the same inputs.
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { kiln, tempDir, writeTree, type FileSpec } from './kiln-helpers.js';

const work = tempDir('one-file');
afterAll(() => rmSync(work, { recursive: true, force: true }));

const files: Record<string, FileSpec> = { Dockerfile: 'FROM scratch\nCOPY src/ /app/src/\nCOPY notes.txt /app/\n', 'notes.txt': 'notes\n' };
for (let i = 0; i < 150; i++) files[`src/m${i % 7}/file-${i}.js`] = `export const n = ${i};\n${'x'.repeat(i * 37)}\n`;
files['src/big.bin'] = 'b'.repeat(300_000);
files['src/link'] = { symlink: 'm0/file-0.js' };
files['src/tool.sh'] = { content: '#!/bin/sh\n', mode: 0o755 };

async function buildDigest(store: string, ctx: string): Promise<string> {
  const r = await kiln(['build', '--store', store, '-q', ctx]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return r.stdout.trim();
}

it('the layer rebuilt from the last one equals a fresh build, after edits, an addition and a removal', async () => {
  const ctx = writeTree(join(work, 'ctx'), files);
  const store = join(work, 'store');
  await buildDigest(store, ctx);
  expect(readdirSync(join(store, 'meta', 'layer-spans'))).toHaveLength(1); // the 150-file COPY; notes.txt is too small to keep

  writeFileSync(join(ctx, 'src/m3/file-10.js'), 'export const n = "changed";\n');
  writeFileSync(join(ctx, 'src/m5/added.js'), 'added\n');
  rmSync(join(ctx, 'src/m1/file-8.js'));
  const spliced = await buildDigest(store, ctx);
  expect(await buildDigest(join(work, 'fresh-1'), ctx)).toBe(spliced);

  // Again from the spliced layer, with a larger file changed.
  writeFileSync(join(ctx, 'src/big.bin'), 'c'.repeat(300_001));
  const again = await buildDigest(store, ctx);
  expect(again).not.toBe(spliced);
  expect(await buildDigest(join(work, 'fresh-2'), ctx)).toBe(again);

  // A layer's side files go with it: after a prune of everything, none is left.
  expect((await kiln(['system', 'prune', '-a', '-f', '--store', store])).code).toBe(0);
  expect(readdirSync(join(store, 'meta', 'layer-spans'))).toEqual([]);
  expect(readdirSync(join(store, 'meta', 'layer-headers'))).toEqual([]);
});
