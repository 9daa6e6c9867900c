import { createRequire as __kilnCreateRequire } from 'node:module';
const require = __kilnCreateRequire(import.meta.url);
import {
  STATE_KEY,
  getState,
  group,
  info,
  layerCacheDigest,
  saveCache,
  saveCacheMounts,
  savedKey,
  warning
} from "./chunks/chunk-DH5ZRLYQ.js";
import "./chunks/chunk-TNKPLGS4.js";

// packages/action/src/post-step.ts
async function runPost() {
  const raw = getState(STATE_KEY);
  if (!raw) {
    info("layer cache off or not used: nothing to save");
    return;
  }
  let state;
  try {
    state = JSON.parse(raw);
  } catch {
    warning("the main step left a state the post step cannot read: nothing saved");
    return;
  }
  await saveLayerCache(state);
  const mounts = state.mounts;
  if (mounts) {
    const runKey = `${process.env["GITHUB_RUN_ID"] ?? Date.now()}-${process.env["GITHUB_RUN_ATTEMPT"] ?? "1"}`;
    await group(
      "Save the RUN cache mounts",
      () => saveCacheMounts(mounts, mounts.since, runKey).catch((err) => warning(`could not save the RUN cache mounts: ${err.message}`))
    );
  }
}
async function saveLayerCache(state) {
  try {
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
