// Steps that change only the image config (no layer): one function per instruction.

import { KilnError } from '../../errors.js';
import type { Instruction } from '../../dockerfile/instructions.js';
import type { ContainerConfig } from '../../oci/types.js';
import { setEnv } from '../scope.js';
import type { StepOutcome } from '../stage-state.js';
import type { StepInput } from './step.js';

type Of<K extends Instruction['kind']> = StepInput<Extract<Instruction, { kind: K }>>;

/** The config's container part, created when the base had none. */
function container(input: StepInput): ContainerConfig {
  return (input.config.config ??= {});
}

/** Record the config change under `createdBy` (BuildKit gives every metadata step a history entry but ARG). */
function commit(input: StepInput, createdBy: string, recordHistory = true): Promise<StepOutcome> {
  return input.build.metadataStep(input.state, input.config, createdBy, recordHistory);
}

export function argStep(input: Of<'ARG'>): Promise<StepOutcome> {
  const { scope, vars } = input.stage;
  for (const { key, value } of input.instruction.args) {
    scope.declare(key, value === undefined ? undefined : input.expand(value));
    const declared = scope.get(key);
    if (declared !== undefined) vars.set(key, declared);
  }
  const shown = input.instruction.args.map((a) => (scope.get(a.key) === undefined ? a.key : `${a.key}=${scope.get(a.key)}`));
  return commit(input, `ARG ${shown.join(' ')}`, false);
}

export function envStep(input: Of<'ENV'>): Promise<StepOutcome> {
  const c = container(input);
  const pairs = input.instruction.env.map(({ key, value }) => [input.expand(key), input.expand(value)] as const);
  let env = c.Env ?? [];
  for (const [k, v] of pairs) {
    env = setEnv(env, k, v);
    input.stage.vars.set(k, v);
  }
  c.Env = env;
  return commit(input, `ENV ${pairs.map(([k, v]) => `${k}=${v}`).join(' ')}`);
}

export function labelStep(input: Of<'LABEL'>): Promise<StepOutcome> {
  const c = container(input);
  const pairs = input.instruction.labels.map(({ key, value }) => [input.expand(key), input.expand(value)] as const);
  c.Labels = { ...(c.Labels ?? {}) };
  for (const [k, v] of pairs) c.Labels[k] = v;
  return commit(input, `LABEL ${pairs.map(([k, v]) => `${k}=${v}`).join(' ')}`);
}

export function maintainerStep(input: Of<'MAINTAINER'>): Promise<StepOutcome> {
  input.config.author = input.expand(input.instruction.maintainer);
  return commit(input, `MAINTAINER ${input.config.author}`);
}

export function exposeStep(input: Of<'EXPOSE'>): Promise<StepOutcome> {
  const c = container(input);
  c.ExposedPorts = { ...(c.ExposedPorts ?? {}) };
  const ports = input.instruction.ports.flatMap((p) => expandPortSpec(input.expand(p)));
  for (const port of ports) c.ExposedPorts[port] = {};
  return commit(input, `EXPOSE map[${ports.map((p) => `${p}:{}`).join(' ')}]`);
}

export function userStep(input: Of<'USER'>): Promise<StepOutcome> {
  const c = container(input);
  c.User = input.expand(input.instruction.user);
  return commit(input, `USER ${c.User}`);
}

export function volumeStep(input: Of<'VOLUME'>): Promise<StepOutcome> {
  const c = container(input);
  c.Volumes = { ...(c.Volumes ?? {}) };
  const volumes = input.instruction.volumes.map((v) => input.expand(v));
  for (const v of volumes) {
    if (v.trim() === '') throw new KilnError('VOLUME specified can not be an empty string');
    c.Volumes[v] = {};
  }
  return commit(input, `VOLUME [${volumes.join(' ')}]`);
}

export function stopSignalStep(input: Of<'STOPSIGNAL'>): Promise<StepOutcome> {
  const c = container(input);
  c.StopSignal = input.expand(input.instruction.signal);
  return commit(input, `STOPSIGNAL ${c.StopSignal}`);
}

/** CMD and ENTRYPOINT: ENTRYPOINT resets a CMD that this stage did not set itself. */
export function commandStep(input: Of<'CMD' | 'ENTRYPOINT'>): Promise<StepOutcome> {
  const c = container(input);
  const ins = input.instruction;
  // An empty exec form (`CMD []`) is stored as no command at all, as Docker does.
  const command = ins.prependShell ? [...(c.Shell ?? ['/bin/sh', '-c']), ...ins.command] : ins.command.length ? ins.command : null;
  if (ins.kind === 'CMD') {
    c.Cmd = command;
    input.stage.cmdSet = true;
  } else {
    c.Entrypoint = command;
    if (!input.stage.cmdSet) c.Cmd = null;
  }
  return commit(input, `${ins.kind} ${JSON.stringify(command)}`);
}

export function shellStep(input: Of<'SHELL'>): Promise<StepOutcome> {
  container(input).Shell = input.instruction.shell;
  return commit(input, `SHELL ${JSON.stringify(input.instruction.shell)}`);
}

export function healthcheckStep(input: Of<'HEALTHCHECK'>): Promise<StepOutcome> {
  const c = container(input);
  const h = input.instruction.health;
  c.Healthcheck = { Test: h.test };
  if (h.interval) c.Healthcheck.Interval = h.interval;
  if (h.timeout) c.Healthcheck.Timeout = h.timeout;
  if (h.startPeriod) c.Healthcheck.StartPeriod = h.startPeriod;
  if (h.startInterval) c.Healthcheck.StartInterval = h.startInterval;
  if (h.retries) c.Healthcheck.Retries = h.retries;
  return commit(input, `HEALTHCHECK ${JSON.stringify(c.Healthcheck)}`);
}

export function onbuildStep(input: Of<'ONBUILD'>): Promise<StepOutcome> {
  const c = container(input);
  c.OnBuild = [...(c.OnBuild ?? []), input.instruction.expression];
  return commit(input, `ONBUILD ${input.instruction.expression}`);
}

/** `80`, `80/udp`, `8000-8002/tcp` -> `80/tcp`, ... as Docker's nat.ParsePortSpecs. */
export function expandPortSpec(spec: string): string[] {
  const [range = '', proto = 'tcp'] = spec.split('/', 2) as [string, string?];
  const protocol = proto.toLowerCase();
  const m = /^(\d+)(?:-(\d+))?$/.exec(range);
  if (!m || !['tcp', 'udp', 'sctp'].includes(protocol)) {
    throw new KilnError(`invalid port "${spec}" in EXPOSE: use PORT[/tcp|udp|sctp] or START-END[/PROTO]`);
  }
  const start = Number(m[1]);
  const end = m[2] === undefined ? start : Number(m[2]);
  if (start > 65535 || end > 65535 || end < start) throw new KilnError(`invalid port range "${range}" in EXPOSE`);
  const out: string[] = [];
  for (let p = start; p <= end; p++) out.push(`${p}/${protocol}`);
  return out;
}
