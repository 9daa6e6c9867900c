// Steps that change only the image config (no layer): one function per instruction.

import { isIP } from 'node:net';
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

/**
 * EXPOSE as BuildKit: each word expanded and split (`EXPOSE $PORTS` with PORTS="80 443/udp"), then
 * read as `[ip:][hostPort:]port[-end][/proto]`. A host part or an IP is accepted with BuildKit's
 * ExposeInvalidFormat warning and only the container port is kept; an upper-case protocol gets
 * ExposeProtoCasing.
 */
export function exposeStep(input: Of<'EXPOSE'>): Promise<StepOutcome> {
  const c = container(input);
  c.ExposedPorts = { ...(c.ExposedPorts ?? {}) };
  const words = input.instruction.ports.flatMap((p) => input.build.expander.words(p, input.stage.vars));
  const warn = (rule: string, message: string) =>
    input.build.options.onEvent?.({ type: 'warning', message: `${rule}: ${message} (line ${input.instruction.line})` });
  const ports = words.flatMap((w) => parseExposedPort(w, warn));
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

/**
 * One EXPOSE word -> `port/proto` entries, as BuildKit's parsePort: `80`, `80/udp`, `8000-8002/tcp`,
 * and the `host:container` / `ip:host:container` forms of `docker run -p` (checked, then only the
 * container port kept, with a warning through `warn`).
 */
export function parseExposedPort(raw: string, warn: (rule: string, message: string) => void = () => undefined): string[] {
  const invalid = (why: string) => new KilnError(`invalid port "${raw}" in EXPOSE: ${why} (use PORT[/tcp|udp|sctp] or START-END[/PROTO])`);
  const parts = raw.split(':');
  const containerPart = parts[parts.length - 1]!;
  const hostPort = parts.length >= 2 ? parts[parts.length - 2]! : '';
  let ip = parts.length >= 3 ? parts.slice(0, -2).join(':') : '';
  const slash = containerPart.indexOf('/');
  const port = slash < 0 ? containerPart : containerPart.slice(0, slash);
  const proto = slash < 0 ? '' : containerPart.slice(slash + 1);
  if (port === '') throw invalid('no port specified');
  if (!['', 'tcp', 'udp', 'sctp'].includes(proto.toLowerCase())) throw invalid(`invalid proto: ${proto}`);
  if (proto !== proto.toLowerCase()) warn('ExposeProtoCasing', `Defined protocol '${raw}' in EXPOSE instruction should be lowercase`);
  if (ip !== '' || hostPort !== '') {
    warn('ExposeInvalidFormat', `EXPOSE instruction should not define an IP address or host-port mapping, found '${raw}'`);
  }
  if (ip.startsWith('[')) {
    const close = ip.indexOf(']');
    if (close !== ip.length - 1) throw new KilnError(`invalid IP address ${ip} in EXPOSE "${raw}"`);
    ip = ip.slice(1, -1);
  }
  if (ip !== '' && !isIP(ip)) throw new KilnError(`invalid IP address: ${ip} (in EXPOSE "${raw}")`);
  const range = portRange(port);
  if (!range) throw new KilnError(`invalid containerPort: ${port} (in EXPOSE "${raw}")`);
  if (hostPort !== '') {
    const host = portRange(hostPort);
    if (!host) throw new KilnError(`invalid hostPort: ${hostPort} (in EXPOSE "${raw}")`);
    // A host range goes with a single container port (a range to pick from), or one as long.
    if (range[1] - range[0] !== host[1] - host[0] && range[1] !== range[0]) {
      throw new KilnError(`invalid ranges specified for container and host Ports: ${port} and ${hostPort} (in EXPOSE "${raw}")`);
    }
  }
  const protocol = (proto || 'tcp').toLowerCase();
  const out: string[] = [];
  for (let p = range[0]; p <= range[1]; p++) out.push(`${p}/${protocol}`);
  return out;
}

/** `80` or `8000-8002` (Go's strconv.ParseInt per number, 0-65535), or undefined. */
function portRange(text: string): [number, number] | undefined {
  const dash = text.indexOf('-');
  const start = portNumber(dash < 0 ? text : text.slice(0, dash));
  if (start === undefined) return undefined;
  if (dash < 0 || text.slice(0, dash) === text.slice(dash + 1)) return [start, start];
  const end = portNumber(text.slice(dash + 1));
  if (end === undefined || end < start) return undefined;
  return [start, end];
}

function portNumber(text: string): number | undefined {
  if (!/^[+-]?\d+$/.test(text)) return undefined;
  const n = Number(text);
  return n >= 0 && n <= 65535 ? n : undefined;
}
