// Layer cache keys: what changes them, and what the post step compares.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { isExactHit, LAYER_CACHE_PATH, planLayerCache, savedKey } from '../src/layer-cache.js';

function context(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-layer-cache-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const plan = (dir: string, extra: Partial<Parameters<typeof planLayerCache>[0]> = {}) =>
  planLayerCache({ runnerOs: 'Linux', runnerArch: 'X64', cacheKey: undefined, dockerfile: join(dir, 'Dockerfile'), context: dir, target: undefined, platform: undefined, ...extra });

describe('layer cache keys', () => {
  it('change with the Dockerfile, a lock file, the target and the platform; not with sources', () => {
    const dir = context({ Dockerfile: 'FROM scratch\n', 'package-lock.json': '{}', 'main.js': 'a' });
    const base = plan(dir).key;
    expect(base).toMatch(/^kiln-v1-Linux-X64-[0-9a-f]{16}$/);
    writeFileSync(join(dir, 'main.js'), 'b');
    expect(plan(dir).key).toBe(base);
    writeFileSync(join(dir, 'package-lock.json'), '{"x":1}');
    const afterLock = plan(dir).key;
    expect(afterLock).not.toBe(base);
    writeFileSync(join(dir, 'Dockerfile'), 'FROM scratch\nCOPY . /\n');
    expect(plan(dir).key).not.toBe(afterLock);
    expect(plan(dir, { target: 'prod' }).key).not.toBe(plan(dir).key);
    expect(plan(dir, { platform: 'linux/arm64' }).key).not.toBe(plan(dir).key);
  });

  it('restore the same inputs first, then any cache of the image; the cache-key input keeps images apart', () => {
    const dir = context({ Dockerfile: 'FROM scratch\n' });
    const p = plan(dir, { cacheKey: 'web app,v2' });
    expect(p.key).toMatch(/^kiln-v1-Linux-X64-web-app-v2-[0-9a-f]{16}$/);
    expect(p.restoreKeys).toEqual([`${p.key}-`, 'kiln-v1-Linux-X64-web-app-v2-']);
    expect(p.path).toBe(LAYER_CACHE_PATH);
  });

  it('saved keys end with the content digest; an exact hit is a key saved for the same inputs', () => {
    const dir = context({ Dockerfile: 'FROM scratch\n' });
    const p = plan(dir);
    const saved = savedKey(p.key, `sha256:${'ab'.repeat(32)}`);
    expect(saved).toBe(`${p.key}-${'ab'.repeat(8)}`);
    expect(isExactHit(p, saved)).toBe(true);
    expect(isExactHit(p, 'kiln-v1-Linux-X64-0000000000000000-abababababababab')).toBe(false);
    expect(isExactHit(p, undefined)).toBe(false);
  });
});
