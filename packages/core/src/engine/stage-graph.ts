// Stages as a graph: which stages the target needs (through FROM <stage> and COPY --from), in
// what order, with cycles and unknown targets reported clearly.

import { DockerfileError } from '../dockerfile/errors.js';
import type { DockerfilePlan, Stage } from '../dockerfile/instructions.js';
import { KilnError } from '../errors.js';

export interface StageRef {
  kind: 'stage';
  stage: Stage;
}
export interface ImageRef {
  kind: 'image';
  name: string;
}

/**
 * Resolve a FROM or --from value as BuildKit's dockerfile2llb does. Stage names are lower-cased
 * when parsed, and a name may be used by several stages (BuildKit only warns):
 *
 *  - FROM (`allowIndex` false) names a stage only when a stage of exactly that name (so `FROM X`
 *    never names stage `x`: it is the image X) comes before the stage being built, `current`; the
 *    latest of them. Anything else is an image, also a stage of that name further down.
 *  - COPY --from (`allowIndex` true) takes the name in any case and means the last stage of that
 *    name in the file, or a stage index. (That it must come before the copying stage is checked
 *    in checkCycles, with the line.)
 *
 * Without `current`, FROM takes the first stage of the name; checkCycles then fails the build
 * where that is not the stage BuildKit takes, rather than build from another stage.
 */
export function lookupStage(plan: DockerfilePlan, name: string, allowIndex: boolean, current?: Stage): StageRef | ImageRef {
  if (!allowIndex) {
    const named = plan.stages.filter((s) => s.name !== undefined && s.name === name);
    const stage = current ? named.filter((s) => s.index < current.index).at(-1) : named[0];
    return stage ? { kind: 'stage', stage } : { kind: 'image', name };
  }
  const lower = name.toLowerCase();
  const byName = plan.stages.filter((s) => s.name === lower).at(-1);
  if (byName) return { kind: 'stage', stage: byName };
  if (/^\d+$/.test(name)) {
    const stage = plan.stages[Number(name)];
    if (!stage) {
      throw new KilnError(`--from=${name}: there is no stage ${name} (the Dockerfile has ${plan.stages.length} stages, numbered from 0)`);
    }
    return { kind: 'stage', stage };
  }
  return { kind: 'image', name };
}

/** `--target`: the last stage of that name (any case), as BuildKit; the last stage when none is given. */
export function findTarget(plan: DockerfilePlan, target: string | undefined): Stage {
  if (target === undefined) return plan.stages[plan.stages.length - 1]!;
  const stage = plan.stages.filter((s) => s.name === target.toLowerCase()).at(-1);
  if (!stage) {
    const names = [...new Set(plan.stages.map((s) => s.name).filter(Boolean))];
    throw new KilnError(
      `target stage "${target}" could not be found in ${plan.file}` +
        (names.length ? `; the named stages are: ${names.join(', ')}` : '; the Dockerfile names no stage (use FROM image AS name)'),
    );
  }
  return stage;
}

/**
 * Check the stages the target needs for cycles. `depsOf` gives each stage's stage dependencies
 * (with the line that creates each edge, for the error message).
 */
export function checkCycles(plan: DockerfilePlan, target: Stage, depsOf: (stage: Stage) => { stage: Stage; line: number }[]): Stage[] {
  const state = new Map<number, 'visiting' | 'done'>();
  const order: Stage[] = [];
  const visit = (stage: Stage, path: string[]) => {
    if (state.get(stage.index) === 'done') return;
    if (state.get(stage.index) === 'visiting') return;
    state.set(stage.index, 'visiting');
    for (const dep of depsOf(stage)) {
      if (state.get(dep.stage.index) === 'visiting') {
        const cycle = [...path, stageLabel(stage), stageLabel(dep.stage)].join(' -> ');
        throw new DockerfileError(`circular dependency detected on stage: ${stageLabel(dep.stage)} (${cycle})`, {
          file: plan.file,
          line: dep.line,
        });
      }
      visit(dep.stage, [...path, stageLabel(stage)]);
    }
    state.set(stage.index, 'done');
    order.push(stage);
  };
  visit(target, []);
  for (const stage of order) checkOrder(plan, stage, depsOf(stage));
  return order;
}

/**
 * BuildKit builds stages in file order: `COPY --from` of a stage that is not above the copying
 * one fails ("needs to be defined before"), and FROM takes the latest stage of its name above
 * it. A dependency is FROM's when it comes from the FROM line.
 */
function checkOrder(plan: DockerfilePlan, stage: Stage, deps: { stage: Stage; line: number }[]): void {
  for (const dep of deps) {
    const location = { file: plan.file, line: dep.line };
    if (dep.line !== stage.from.line) {
      if (dep.stage.index >= stage.index) {
        throw new DockerfileError(
          `cannot copy from stage "${stageLabel(dep.stage)}", it needs to be defined before current stage "${stageLabel(stage)}"` +
            ' (docker build builds stages in file order; move the stage up)',
          location,
        );
      }
      continue;
    }
    const meant = plan.stages.filter((s) => s.name === dep.stage.name && s.index < stage.index).at(-1);
    if (meant !== dep.stage) {
      const name = dep.stage.name ?? String(dep.stage.index);
      throw new DockerfileError(
        meant
          ? `FROM ${name}: several stages are named "${name}"; docker build takes the one at line ${meant.from.line}, the latest above this line, which this build cannot pick yet`
          : `FROM ${name}: the stage "${name}" is defined below this line; docker build reads FROM ${name} here as the image ${name}, not the stage`,
        location,
      );
    }
  }
}

export function stageLabel(stage: Stage): string {
  return stage.name ?? `stage-${stage.index}`;
}
