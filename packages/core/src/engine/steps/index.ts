// One function per Dockerfile instruction, dispatched from this table (as BuildKit's
// dockerfile2llb has a function per command). FROM starts a stage and is the builder's own.

import { KilnError } from '../../errors.js';
import type { Instruction } from '../../dockerfile/instructions.js';
import { copyStep } from './copy.js';
import {
  argStep, commandStep, envStep, exposeStep, healthcheckStep, labelStep, maintainerStep, onbuildStep, shellStep, stopSignalStep, userStep,
  volumeStep,
} from './metadata.js';
import type { Step } from './step.js';
import { runStep } from './run.js';
import { workdirStep } from './workdir.js';

type StepKind = Exclude<Instruction['kind'], 'FROM'>;
type StepTable = { [K in StepKind]: Step<Extract<Instruction, { kind: K }>> };

export const STEPS: StepTable = {
  ARG: argStep,
  ENV: envStep,
  LABEL: labelStep,
  MAINTAINER: maintainerStep,
  EXPOSE: exposeStep,
  USER: userStep,
  VOLUME: volumeStep,
  STOPSIGNAL: stopSignalStep,
  CMD: commandStep,
  ENTRYPOINT: commandStep,
  SHELL: shellStep,
  HEALTHCHECK: healthcheckStep,
  ONBUILD: onbuildStep,
  WORKDIR: workdirStep,
  COPY: copyStep,
  ADD: copyStep,
  RUN: runStep,
};

/** The step for an instruction inside a stage. */
export function stepFor(instruction: Instruction): Step {
  if (instruction.kind === 'FROM') throw new KilnError('FROM inside a stage');
  return STEPS[instruction.kind] as Step;
}
