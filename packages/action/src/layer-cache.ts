// Kiln's layer cache in the Actions cache. The main step restores a directory that holds the cache
// records (and their layers) of the last build of this image, imports it into the Kiln store
// (`--cache-from type=local`), and the build replaces it with exactly what it used
// (`--cache-to type=local`), so the directory never grows run over run. The post step saves it
// under a key that ends with the digest of its content: an unchanged cache is never uploaded twice.
//
// Keys: kiln-v1-<os>-<arch>[-<cache-key>]-<hash of Dockerfile, target, platform, lock files>-<content>.
// A restore prefers a cache of the same Dockerfile and lock files, then any cache of this image.

import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { sha256Hex } from '@kiln/core';

/**
 * The directory, as @actions/cache is given it. The cache's version is a hash of this string, so
 * it must be the same on every runner: a `~` path is (and @actions/cache expands it).
 */
export const LAYER_CACHE_PATH = '~/.cache/kiln/action-layer-cache';

/** The directory on this machine. */
export function layerCacheDir(path: string = LAYER_CACHE_PATH): string {
  return path.startsWith('~/') ? join(homedir(), path.slice(2)) : path;
}

/** Files at the context root whose change usually means new dependency layers. */
export const LOCK_FILES = [
  'package-lock.json',
  'npm-shrinkwrap.json',
  'yarn.lock',
  'pnpm-lock.yaml',
  'bun.lock',
  'bun.lockb',
  'go.sum',
  'Cargo.lock',
  'poetry.lock',
  'Pipfile.lock',
  'uv.lock',
  'requirements.txt',
  'Gemfile.lock',
  'composer.lock',
  'packages.lock.json',
  'gradle.lockfile',
];

export interface LayerCachePlan {
  path: string;
  dir: string;
  /** The key a restore looks for first (no saved key equals it: saved keys add the content digest). */
  key: string;
  restoreKeys: string[];
}

export interface LayerCacheInputs {
  runnerOs: string;
  runnerArch: string;
  cacheKey: string | undefined;
  dockerfile: string;
  context: string;
  target: string | undefined;
  platform: string | undefined;
}

/** A key part without commas (the Actions cache refuses them) or whitespace. */
function keyPart(value: string): string {
  return value.replace(/[\s,]+/g, '-');
}

export function planLayerCache(inputs: LayerCacheInputs): LayerCachePlan {
  const fileHash = (path: string) => (existsSync(path) ? sha256Hex(readFileSync(path)) : undefined);
  const hash = [`target=${inputs.target ?? ''}`, `platform=${inputs.platform ?? ''}`, `Dockerfile=${fileHash(inputs.dockerfile) ?? 'absent'}`];
  for (const name of LOCK_FILES) {
    const digest = fileHash(join(inputs.context, name));
    if (digest) hash.push(`${name}=${digest}`);
  }
  const prefix = ['kiln-v1', keyPart(inputs.runnerOs), keyPart(inputs.runnerArch), ...(inputs.cacheKey ? [keyPart(inputs.cacheKey)] : [])].join('-');
  const key = `${prefix}-${sha256Hex(hash.join('\n')).slice(0, 16)}`;
  return { path: LAYER_CACHE_PATH, dir: layerCacheDir(), key, restoreKeys: [`${key}-`, `${prefix}-`] };
}

/** The digest of what the directory holds (its OCI layout's manifest), or undefined when it holds no cache. */
export async function layerCacheDigest(dir: string): Promise<string | undefined> {
  try {
    const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as { manifests?: { digest?: unknown }[] };
    const digest = index.manifests?.[0]?.digest;
    return typeof digest === 'string' && digest.startsWith('sha256:') ? digest : undefined;
  } catch {
    return undefined;
  }
}

/** The key the post step saves the directory under. */
export function savedKey(key: string, contentDigest: string): string {
  return `${key}-${contentDigest.slice('sha256:'.length, 'sha256:'.length + 16)}`;
}

/** Whether a restored key was saved for the same Dockerfile, target, platform and lock files. */
export function isExactHit(plan: Pick<LayerCachePlan, 'key'>, restoredKey: string | undefined): boolean {
  return restoredKey !== undefined && restoredKey.startsWith(`${plan.key}-`);
}
