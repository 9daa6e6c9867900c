// The executor declarations: packages/nx-plugin/executors.json is the single source; the
// top-level executors.json (the repository as a local plugin) is generated from it and must agree;
// every implementation is a require()-able .cjs shim and every schema exists; the shim runs the
// built ES module as Nx would call it.

import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from '@jest/globals';
import { executorContext, tempWorkspace } from './helpers.js';

const execFileAsync = promisify(execFile);
const pkgDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const repoRoot = resolve(pkgDir, '../..');

interface ExecutorsJson {
  executors: Record<string, { implementation: string; batchImplementation?: string; preferBatch?: boolean; schema: string; description: string }>;
}
const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;

describe('executors.json', () => {
  const pkg = readJson<ExecutorsJson>(join(pkgDir, 'executors.json'));
  const root = readJson<ExecutorsJson>(join(repoRoot, 'executors.json'));

  it('declares image and image-push, with shims and schemas that exist', () => {
    expect(Object.keys(pkg.executors).sort()).toEqual(['image', 'image-push']);
    expect(pkg.executors['image']).toMatchObject({ batchImplementation: './executors/image-batch.cjs', preferBatch: true });
    for (const entry of Object.values(pkg.executors)) {
      for (const shim of [entry.implementation, entry.batchImplementation ?? entry.implementation]) {
        expect(shim).toMatch(/\.cjs$/);
        expect(existsSync(join(pkgDir, shim))).toBe(true);
      }
      const schema = readJson<{ properties: Record<string, { description?: string }> }>(join(pkgDir, entry.schema));
      for (const [name, prop] of Object.entries(schema.properties)) expect([name, prop.description?.length ?? 0]).not.toEqual([name, 0]);
    }
  });

  it('the top-level executors.json is generated from the package one and up to date', async () => {
    await expect(execFileAsync(process.execPath, [join(pkgDir, 'scripts/sync-executors.mjs'), '--check'])).resolves.toBeDefined();
    expect(Object.keys(root.executors)).toEqual(Object.keys(pkg.executors));
    for (const [name, entry] of Object.entries(pkg.executors)) {
      const top = root.executors[name]!;
      expect(resolve(repoRoot, top.implementation)).toBe(resolve(pkgDir, entry.implementation));
      if (entry.batchImplementation) expect(resolve(repoRoot, top.batchImplementation!)).toBe(resolve(pkgDir, entry.batchImplementation));
      expect(resolve(repoRoot, top.schema)).toBe(resolve(pkgDir, entry.schema));
      expect(top.description).toBe(entry.description);
    }
  });

  it('both package.json files point Nx at their executors.json', () => {
    expect(readJson<{ executors: string }>(join(pkgDir, 'package.json')).executors).toBe('./executors.json');
    expect(readJson<{ executors: string }>(join(repoRoot, 'package.json')).executors).toBe('./executors.json');
  });

  describe('the .cjs shim, loaded with require() as Nx loads executors', () => {
    const ws = tempWorkspace({ 'apps/app/Dockerfile': 'FROM scratch\nCOPY a.txt /a.txt\n', 'apps/app/a.txt': 'a\n' });
    afterAll(() => ws.remove());

    it('runs the built executor and returns {success}', async () => {
      const shim = join(pkgDir, pkg.executors['image']!.implementation);
      const script = `require(${JSON.stringify(shim)})(JSON.parse(process.argv[1]), JSON.parse(process.argv[2])).then((r) => process.stdout.write('RESULT ' + JSON.stringify(r)))`;
      const { stdout } = await execFileAsync(
        process.execPath,
        ['-e', script, JSON.stringify({ store: 'store' }), JSON.stringify(executorContext(ws.root))],
        { cwd: repoRoot, encoding: 'utf8' },
      );
      const result = JSON.parse(stdout.slice(stdout.indexOf('RESULT ') + 7)) as { success: boolean };
      expect(result.success).toBe(true);
      expect(existsSync(join(ws.root, 'dist/images/app/metadata.json'))).toBe(true);
    });
  });
});
