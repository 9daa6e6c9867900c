// The Action's post step (post-if: success()): saves the layer cache directory the build left,
// under a key that ends with the digest of its content, so a cache that did not change is never
// uploaded again and each saved entry holds only what one build used; then the RUN cache mounts
// (cache-mounts.ts), when a RUN used one.

import * as cache from '@actions/cache';
import * as core from '@actions/core';
import { layerCacheDigest, savedKey } from './layer-cache.js';
import { STATE_KEY, type PostState } from './post-state.js';
import { saveCacheMounts } from './cache-mounts.js';

export async function runPost(): Promise<void> {
  const raw = core.getState(STATE_KEY);
  if (!raw) {
    core.info('layer cache off or not used: nothing to save');
    return;
  }
  let state: PostState;
  try {
    state = JSON.parse(raw) as PostState;
  } catch {
    core.warning('the main step left a state the post step cannot read: nothing saved');
    return;
  }
  await saveLayerCache(state);
  const mounts = state.mounts;
  if (mounts) {
    const runKey = `${process.env['GITHUB_RUN_ID'] ?? Date.now()}-${process.env['GITHUB_RUN_ATTEMPT'] ?? '1'}`;
    // As for the layer cache: a cache that cannot be saved is a warning, never a failed job.
    await core.group('Save the RUN cache mounts', () =>
      saveCacheMounts(mounts, mounts.since, runKey).catch((err: unknown) => core.warning(`could not save the RUN cache mounts: ${(err as Error).message}`)),
    );
  }
}

async function saveLayerCache(state: PostState): Promise<void> {
  try {
    const digest = await layerCacheDigest(state.dir);
    if (!digest) {
      core.info(`no layer cache in ${state.dir}: nothing to save`);
      return;
    }
    const key = savedKey(state.key, digest);
    if (key === state.restoredKey) {
      core.info(`the layer cache is unchanged (${key}): not saved again`);
      return;
    }
    const id = await cache.saveCache([state.path], key);
    // saveCache reports its own failures (an entry saved meanwhile, a service outage) and returns -1.
    if (id !== -1) core.info(`saved the layer cache as ${key}`);
  } catch (err) {
    core.warning(`could not save the layer cache: ${(err as Error).message}`);
  }
}
