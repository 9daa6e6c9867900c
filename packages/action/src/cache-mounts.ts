// RUN cache mounts (`RUN --mount=type=cache,target=/root/.npm npm ci`) carried from one workflow
// run to the next in the Actions cache, next to the layer cache: BuildKit's GitHub cache exporter
// drops them, which is why users add extra actions for them. The main step restores the last
// saved ones into the fresh Kiln store; the post step saves the store's cache mounts again, but
// only when a RUN used one in this job (a build answered by the layer cache changes none).
//
// Bound and eviction: at most `cache-mounts-limit` MiB (default 1024) are saved; when the mounts
// hold more, the least recently used ones (by the time a RUN last mounted them) are left out
// whole, so the entry never grows past the bound and an unused cache ages out.
//
// The mounts hold files the build's RUN steps wrote as root, so on a hosted runner (a user with
// passwordless sudo) tar and du run through `sudo -n`, as Kiln's RUN helper does.

import { existsSync } from 'node:fs';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import * as cache from '@actions/cache';
import * as core from '@actions/core';
import { getExecOutput } from '@actions/exec';
import type { LayerCachePlan } from './layer-cache.js';

/** The directory @actions/cache saves (a `~` path: the same on every runner, so the same cache version). */
export const CACHE_MOUNTS_PATH = '~/.cache/kiln/action-cache-mounts';
const ARCHIVE = 'cache-mounts.tar';
export const DEFAULT_CACHE_MOUNTS_LIMIT_MIB = 1024;

export interface CacheMountsPlan {
  path: string;
  dir: string;
  key: string;
  restoreKeys: string[];
  /** The Kiln store whose `cache-mounts/` is restored and saved. */
  storeRoot: string;
  limitBytes: number;
}

/** The mounts' cache entry: the layer cache's key with its own prefix. */
export function planCacheMounts(layers: Pick<LayerCachePlan, 'key' | 'restoreKeys'>, storeRoot: string, limitMiB: number): CacheMountsPlan {
  const own = (k: string) => k.replace(/^kiln-v1-/, 'kiln-mounts-v1-');
  return {
    path: CACHE_MOUNTS_PATH,
    dir: join(homedir(), CACHE_MOUNTS_PATH.slice(2)),
    key: own(layers.key),
    restoreKeys: layers.restoreKeys.map(own),
    storeRoot,
    limitBytes: limitMiB * 1024 * 1024,
  };
}

/** tar, du and chown as root: directly when this is root, else through `sudo -n`; undefined when neither works. */
async function asRoot(command: string, args: string[]): Promise<string | undefined> {
  const elevated = process.getuid?.() === 0 ? [command, args] as const : ['sudo', ['-n', '--', command, ...args]] as const;
  const r = await getExecOutput(elevated[0], [...elevated[1]], { ignoreReturnCode: true, silent: true });
  if (r.exitCode !== 0) {
    core.warning(`RUN cache mounts: ${command} failed${process.getuid?.() === 0 ? '' : ' (through sudo -n)'}: ${r.stderr.trim().split('\n').slice(-2).join('; ')}`);
    return undefined;
  }
  return r.stdout;
}

/** Restore the last saved mounts into the store (before the build). Returns the key restored. */
export async function restoreCacheMounts(plan: CacheMountsPlan): Promise<string | undefined> {
  let key: string | undefined;
  try {
    key = await cache.restoreCache([plan.path], plan.key, plan.restoreKeys);
  } catch (err) {
    core.warning(`could not restore the RUN cache mounts: ${(err as Error).message}`);
    return undefined;
  }
  const archive = join(plan.dir, ARCHIVE);
  if (!key || !existsSync(archive)) {
    core.info('no RUN cache mounts saved yet');
    return undefined;
  }
  const mounts = join(plan.storeRoot, 'cache-mounts');
  await mkdir(mounts, { recursive: true, mode: 0o700 });
  // Owners and modes as the RUN steps left them; a mount this store already has is kept.
  const ok = await asRoot('tar', ['-x', '-f', archive, '-C', mounts, '--numeric-owner', '--same-owner', '--same-permissions', '--skip-old-files']);
  await rm(archive, { force: true });
  if (ok !== undefined) core.info(`restored the RUN cache mounts ${key}`);
  return ok === undefined ? undefined : key;
}

interface Mount {
  hex: string;
  lastUsed: number;
  bytes: number;
}

/** Save the store's mounts (after the build), when a RUN of this job used one; `since` is when the job's build began. */
export async function saveCacheMounts(plan: CacheMountsPlan, since: number, runKey: string): Promise<void> {
  const dir = join(plan.storeRoot, 'cache-mounts');
  const names = existsSync(dir) ? await readdir(dir) : [];
  const mounts: Mount[] = [];
  for (const name of names.filter((n) => n.endsWith('.json'))) {
    const hex = name.slice(0, -'.json'.length);
    if (!names.includes(hex)) continue;
    mounts.push({ hex, lastUsed: (await stat(join(dir, name))).mtimeMs, bytes: 0 });
  }
  if (!mounts.some((m) => m.lastUsed >= since)) {
    core.info('no RUN used a cache mount in this job: the saved RUN cache mounts stay as they are');
    return;
  }
  // Sizes as root: the mounts hold files only root may read.
  const du = await asRoot('du', ['-s', '-B1', ...mounts.map((m) => join(dir, m.hex))]);
  if (du === undefined) return;
  for (const line of du.trim().split('\n')) {
    const [bytes, path] = line.split('\t');
    const m = mounts.find((x) => join(dir, x.hex) === path);
    if (m) m.bytes = Number(bytes);
  }
  // Most recently used first, whole mounts, up to the bound.
  mounts.sort((a, b) => b.lastUsed - a.lastUsed);
  const kept: Mount[] = [];
  let total = 0;
  for (const m of mounts) {
    if (total + m.bytes > plan.limitBytes) break; // this one and every older one are left out
    kept.push(m);
    total += m.bytes;
  }
  const left = mounts.length - kept.length;
  if (kept.length === 0) {
    core.warning(`RUN cache mounts: none fits in cache-mounts-limit (${plan.limitBytes / 1024 / 1024} MiB): nothing saved`);
    return;
  }
  await mkdir(plan.dir, { recursive: true });
  const archive = join(plan.dir, ARCHIVE);
  const files = kept.flatMap((m) => [m.hex, `${m.hex}.json`]);
  if ((await asRoot('tar', ['-c', '-f', archive, '-C', dir, '--numeric-owner', ...files])) === undefined) return;
  // The runner's user uploads it.
  if (process.getuid?.() !== 0 && (await asRoot('chown', [`${process.getuid?.()}:${process.getgid?.()}`, archive])) === undefined) return;
  try {
    const id = await cache.saveCache([plan.path], `${plan.key}-${runKey}`);
    if (id !== -1) {
      core.info(`saved ${kept.length} RUN cache mount${kept.length === 1 ? '' : 's'} (${(total / 1024 / 1024).toFixed(1)} MiB) as ${plan.key}-${runKey}` + (left ? `; ${left} least recently used left out (cache-mounts-limit)` : ''));
    }
  } catch (err) {
    core.warning(`could not save the RUN cache mounts: ${(err as Error).message}`);
  } finally {
    await rm(archive, { force: true });
  }
}
