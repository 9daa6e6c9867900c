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

/** Resolve a FROM or --from value: a stage name, a stage index (COPY --from only), or an image. */
export function lookupStage(plan: DockerfilePlan, name: string, allowIndex: boolean): StageRef | ImageRef {
  const lower = name.toLowerCase();
  const byName = plan.stages.find((s) => s.name === lower);
  if (byName) return { kind: 'stage', stage: byName };
  if (allowIndex && /^\d+$/.test(name)) {
    const stage = plan.stages[Number(name)];
    if (!stage) {
      throw new KilnError(`--from=${name}: there is no stage ${name} (the Dockerfile has ${plan.stages.length} stages, numbered from 0)`);
    }
    return { kind: 'stage', stage };
  }
  return { kind: 'image', name };
}

export function findTarget(plan: DockerfilePlan, target: string | undefined): Stage {
  if (target === undefined) return plan.stages[plan.stages.length - 1]!;
  const stage = plan.stages.find((s) => s.name === target.toLowerCase());
  if (!stage) {
    const names = plan.stages.map((s) => s.name).filter(Boolean);
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
  return order;
}

export function stageLabel(stage: Stage): string {
  return stage.name ?? `stage-${stage.index}`;
}
