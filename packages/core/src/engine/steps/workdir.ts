// WORKDIR: set the working directory and create it (mkdir -p) as BuildKit does.

import { posix } from 'node:path';
import type { Instruction } from '../../dockerfile/instructions.js';
import { comparePaths, type LayerEntry } from '../../layer/index.js';
import { addAncestors } from '../copy-plan.js';
import { resolveOwner } from '../rootfs.js';
import type { StepOutcome } from '../stage-state.js';
import type { StepInput } from './step.js';

export async function workdirStep(input: StepInput<Extract<Instruction, { kind: 'WORKDIR' }>>): Promise<StepOutcome> {
  const { state, config } = input;
  const c = (config.config ??= {});
  const dir = posix.resolve('/', c.WorkingDir || '/', input.expand(input.instruction.path));
  c.WorkingDir = dir;
  // The directories made follow from the parent image and USER, which the parent's key already
  // decides: a cache hit needs no look at the image's filesystem.
  const produce = async () => {
    const owner = c.User ? await resolveOwner(state.view, c.User) : { uid: 0, gid: 0 };
    // mkdir -p inside the rootfs: symlinks on the way are followed, missing directories are
    // created owned by USER, and the layer carries their ancestors as they are (addAncestors).
    const real = await state.view.landingPath(dir.slice(1), true);
    const created = new Map<string, LayerEntry>();
    if (real !== '' && (await state.view.resolve(real)).node?.type !== 'dir') {
      const parts = real.split('/');
      for (let i = 1; i <= parts.length; i++) {
        const p = parts.slice(0, i).join('/');
        if ((await state.view.resolve(p)).node?.type !== 'dir') created.set(p, { path: p, type: 'dir', mode: 0o755, ...owner });
      }
      await addAncestors(created, state.view, owner);
    }
    return { entries: [...created.values()].sort((a, b) => comparePaths(a.path, b.path)) };
  };
  // Like BuildKit, WORKDIR always adds a layer, empty when the directory already exists.
  return input.build.layerStep(state, config, `WORKDIR ${dir}`, [], produce);
}
