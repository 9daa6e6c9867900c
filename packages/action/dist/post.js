import { createRequire as __kilnCreateRequire } from 'node:module';
const require = __kilnCreateRequire(import.meta.url);
import {
  STATE_KEY,
  getState,
  info,
  layerCacheDigest,
  saveCache,
  savedKey,
  warning
} from "./chunks/chunk-B7JTE6VV.js";
import "./chunks/chunk-QSDDZJCI.js";

// packages/action/src/post-step.ts
async function runPost() {
  const raw = getState(STATE_KEY);
  if (!raw) {
    info("layer cache off or not used: nothing to save");
    return;
  }
  try {
    const state = JSON.parse(raw);
    const digest = await layerCacheDigest(state.dir);
    if (!digest) {
      info(`no layer cache in ${state.dir}: nothing to save`);
      return;
    }
    const key = savedKey(state.key, digest);
    if (key === state.restoredKey) {
      info(`the layer cache is unchanged (${key}): not saved again`);
      return;
    }
    const id = await saveCache([state.path], key);
    if (id !== -1) info(`saved the layer cache as ${key}`);
  } catch (err) {
    warning(`could not save the layer cache: ${err.message}`);
  }
}

// packages/action/src/post.ts
await runPost();
