// The Action's post step (post-if: success()): saves the layer cache directory the build left,
// under a key that ends with the digest of its content, so a cache that did not change is never
// uploaded again and each saved entry holds only what one build used.

import * as cache from '@actions/cache';
import * as core from '@actions/core';
import { layerCacheDigest, savedKey } from './layer-cache.js';
import { STATE_KEY, type PostState } from './post-state.js';

export async function runPost(): Promise<void> {
  const raw = core.getState(STATE_KEY);
  if (!raw) {
    core.info('layer cache off or not used: nothing to save');
    return;
  }
  try {
    const state = JSON.parse(raw) as PostState;
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
