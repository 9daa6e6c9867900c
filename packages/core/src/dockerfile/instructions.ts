// Syntax tree -> typed instructions and build stages, with BuildKit's instruction-level checks
// (argument counts, known flags, ONBUILD triggers, a FROM before any build step): what BuildKit
// refuses is refused, what it builds is built, with a warning where the result is likely not
// what the author meant. Words are kept unexpanded: `$VAR` expansion needs the build's ARG/ENV
// scope and happens in engine/.

import type { DockerfileAst, Heredoc, InstructionNode } from './ast.js';
import { applyChecks, parseCheckDirective, type DockerfileWarning } from './checks.js';
import { DockerfileError } from './errors.js';
import { brokenExecFormWarning, type Fallback } from './exec-form.js';
import { chompHeredocContent, parseHeredocWord } from './heredoc.js';
import { parseDuration } from './duration.js';

export interface KeyValue {
  key: string;
  value: string;
}

interface Base {
  /** Line range of the instruction in the Dockerfile. */
  line: number;
  endLine: number;
  /** The instruction text after continuation lines were joined. */
  original: string;
}

/** Exec form (`["a","b"]`, prependShell false) or shell form (one string, run through SHELL). */
export interface CommandLine {
  command: string[];
  prependShell: boolean;
}

/** A heredoc used as a file: COPY's inline sources, RUN's inline scripts. */
export interface InlineFile {
  name: string;
  data: string;
  expand: boolean;
}

export interface FromInstruction extends Base {
  kind: 'FROM';
  image: string;
  /** Lower-cased `AS name`. */
  stageName?: string;
  platform?: string;
}
export interface ArgInstruction extends Base {
  kind: 'ARG';
  args: { key: string; value?: string }[];
}
export interface EnvInstruction extends Base {
  kind: 'ENV';
  env: KeyValue[];
}
export interface LabelInstruction extends Base {
  kind: 'LABEL';
  labels: KeyValue[];
}
export interface MaintainerInstruction extends Base {
  kind: 'MAINTAINER';
  maintainer: string;
}
export interface ExposeInstruction extends Base {
  kind: 'EXPOSE';
  ports: string[];
}
export interface WorkdirInstruction extends Base {
  kind: 'WORKDIR';
  path: string;
}
export interface UserInstruction extends Base {
  kind: 'USER';
  user: string;
}
export interface VolumeInstruction extends Base {
  kind: 'VOLUME';
  volumes: string[];
}
export interface CopyInstruction extends Base {
  kind: 'COPY' | 'ADD';
  sources: string[];
  /** Heredoc sources (`COPY <<EOF /dest`), in the order written. */
  inlineSources: InlineFile[];
  dest: string;
  from?: string;
  chown?: string;
  chmod?: string;
  link: boolean;
  parents: boolean;
  exclude: string[];
  /** ADD only. */
  checksum?: string;
  keepGitDir?: boolean;
  unpack?: boolean;
}
export interface RunInstruction extends Base, CommandLine {
  kind: 'RUN';
  files: (InlineFile & { chomp: boolean })[];
  mounts: string[];
  network?: string;
  security?: string;
}
export interface CmdInstruction extends Base, CommandLine {
  kind: 'CMD' | 'ENTRYPOINT';
}
export interface ShellInstruction extends Base {
  kind: 'SHELL';
  shell: string[];
}
export interface Healthcheck {
  /** `["NONE"]`, `["CMD", ...]` or `["CMD-SHELL", "..."]`, as in the image config. */
  test: string[];
  /** Durations in nanoseconds, as the image config stores them; 0 = inherit/default. */
  interval: number;
  timeout: number;
  startPeriod: number;
  startInterval: number;
  retries: number;
}
export interface HealthcheckInstruction extends Base {
  kind: 'HEALTHCHECK';
  health: Healthcheck;
}
export interface StopsignalInstruction extends Base {
  kind: 'STOPSIGNAL';
  signal: string;
}
export interface OnbuildInstruction extends Base {
  kind: 'ONBUILD';
  /** The trigger text as it is stored in the image config (`RUN echo hi`). */
  expression: string;
  /**
   * The trigger, typed; undefined when it is no valid instruction. BuildKit checks only that the
   * trigger is not ONBUILD, FROM or MAINTAINER and stores it; a build FROM the image then fails on
   * it. Kiln does the same, with a warning.
   */
  trigger?: Instruction;
}

export type Instruction =
  | FromInstruction
  | ArgInstruction
  | EnvInstruction
  | LabelInstruction
  | MaintainerInstruction
  | ExposeInstruction
  | WorkdirInstruction
  | UserInstruction
  | VolumeInstruction
  | CopyInstruction
  | RunInstruction
  | CmdInstruction
  | ShellInstruction
  | HealthcheckInstruction
  | StopsignalInstruction
  | OnbuildInstruction;

export const INSTRUCTION_NAMES = [
  'ADD', 'ARG', 'CMD', 'COPY', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'FROM', 'HEALTHCHECK', 'LABEL',
  'MAINTAINER', 'ONBUILD', 'RUN', 'SHELL', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR',
] as const;

type FlagType = 'bool' | 'string' | 'strings';
type FlagSpec = Record<string, FlagType>;

const FLAGS: Record<string, FlagSpec> = {
  FROM: { platform: 'string' },
  COPY: { from: 'string', chown: 'string', chmod: 'string', link: 'bool', parents: 'bool', exclude: 'strings' },
  // No --parents on ADD: BuildKit has it on COPY only ("unknown flag: --parents").
  ADD: {
    chown: 'string', chmod: 'string', link: 'bool', exclude: 'strings', checksum: 'string', 'keep-git-dir': 'bool', unpack: 'bool',
  },
  RUN: { mount: 'strings', network: 'string', security: 'string' },
  HEALTHCHECK: {
    interval: 'string', timeout: 'string', 'start-period': 'string', 'start-interval': 'string', retries: 'string',
  },
};

/** A problem with one instruction; typeInstruction adds the location. */
class InstructionProblem extends Error {}

/** Records a warning about the instruction being typed (typeInstruction adds the location). */
type Warn = (message: string, rule?: string) => void;

interface ParsedFlags {
  bool(name: string): boolean | undefined;
  /** The value; an empty value (`--from=`) reads as unset, as BuildKit's flag defaults are "". */
  string(name: string): string | undefined;
  /** The value as written, '' included. */
  raw(name: string): string | undefined;
  strings(name: string): string[];
}

function parseFlags(instruction: string, words: string[]): ParsedFlags {
  const spec = FLAGS[instruction] ?? {};
  const values = new Map<string, string[]>();
  for (const word of words) {
    if (!word.startsWith('--')) throw new InstructionProblem(`arg should start with -- : ${word}`);
    const eq = word.indexOf('=');
    const name = eq < 0 ? word.slice(2) : word.slice(2, eq);
    const type = spec[name];
    if (!type) {
      const known = Object.keys(spec).map((f) => `--${f}`);
      const hint = suggest(`--${name}`, known);
      throw new InstructionProblem(
        `unknown flag: --${name}` +
          (hint ? ` (did you mean ${hint}?)` : known.length ? ` (${instruction} accepts ${known.join(', ')})` : ` (${instruction} takes no flags)`),
      );
    }
    const seen = values.get(name);
    if (seen && type !== 'strings') throw new InstructionProblem(`duplicate flag specified: --${name}`);
    let value = eq < 0 ? undefined : word.slice(eq + 1);
    if (type === 'bool') {
      if (value === '') throw new InstructionProblem(`missing a value on flag: --${name}`);
      const lower = (value ?? 'true').toLowerCase();
      if (lower !== 'true' && lower !== 'false') {
        throw new InstructionProblem(`expecting boolean value for flag --${name}, not: ${value}`);
      }
      value = lower;
    } else if (value === undefined) {
      throw new InstructionProblem(`missing a value on flag: --${name} (write --${name}=VALUE)`);
    }
    values.set(name, [...(seen ?? []), value]);
  }
  return {
    bool: (name) => (values.has(name) ? values.get(name)![0] === 'true' : undefined),
    string: (name) => values.get(name)?.[0] || undefined,
    raw: (name) => values.get(name)?.[0],
    strings: (name) => values.get(name) ?? [],
  };
}

/**
 * ARG, STOPSIGNAL and HEALTHCHECK NONE: BuildKit never parses their flags, so any flag is
 * accepted and has no effect. Kiln builds them the same way and says so.
 */
function ignoredFlags(what: string, node: InstructionNode, warn: Warn): void {
  if (node.flags.length === 0) return;
  const flags = node.flags.join(' ');
  warn(`${what} takes no flags: ${flags} ${node.flags.length === 1 ? 'has' : 'have'} no effect (docker build ignores ${node.flags.length === 1 ? 'it' : 'them'} too)`);
}

const atLeastOne = (name: string) => new InstructionProblem(`${name} requires at least one argument`);
const exactlyOne = (name: string) => new InstructionProblem(`${name} requires exactly one argument`);

function keyValues(name: string, args: string[]): KeyValue[] {
  if (args.length === 0) throw atLeastOne(name);
  if (args.length % 3 !== 0) throw new InstructionProblem(`Bad input to ${name}, too many arguments`);
  const pairs: KeyValue[] = [];
  for (let i = 0; i < args.length; i += 3) {
    if (args[i] === '') throw new InstructionProblem(`${name} names can not be blank`);
    pairs.push({ key: args[i]!, value: args[i + 1]! });
  }
  return pairs;
}

function oneArgument(name: string, node: InstructionNode): string {
  if (node.args.length !== 1) throw exactlyOne(name);
  return node.args[0]!;
}

/**
 * `CMD ['a', 'b']` or `CMD ["a", "b"` is not JSON, so BuildKit takes it as shell form (or as
 * words, for COPY, ADD and VOLUME) and builds it; the container then fails at run time in a
 * confusing way. Kiln builds it as docker does and warns. (RUN is exempt: `RUN [ "$X" = y ]` is
 * a shell test.)
 */
function warnBrokenExecForm(keyword: string, node: InstructionNode, args: string[], fallback: Fallback, warn: Warn): void {
  if (node.json || args.length === 0) return;
  const message = brokenExecFormWarning(keyword, args.join(' '), fallback);
  if (message) warn(message);
}

/** Shell form joins its words back into one command string; exec form keeps the array. */
function commandLine(node: InstructionNode, args: string[]): CommandLine {
  return { command: node.json ? args : args.length ? [args.join(' ')] : [], prependShell: !node.json };
}

const STAGE_NAME = /^[a-z][a-z0-9-_.]*$/;

function typeFrom(node: InstructionNode, base: Base): FromInstruction {
  const flags = parseFlags('FROM', node.flags);
  const args = node.args;
  let stageName: string | undefined;
  if (args.length === 3 && args[1]!.toLowerCase() === 'as') {
    stageName = args[2]!.toLowerCase();
    if (!STAGE_NAME.test(stageName)) {
      throw new InstructionProblem(
        `invalid name for build stage: "${args[2]}", name can't start with a number or contain symbols`,
      );
    }
  } else if (args.length !== 1) {
    throw new InstructionProblem('FROM requires either one or three arguments (FROM image [AS name])');
  }
  return { kind: 'FROM', ...base, image: args[0]!, stageName, platform: flags.string('platform') };
}

function typeCopy(kind: 'COPY' | 'ADD', node: InstructionNode, base: Base, warn: Warn): CopyInstruction {
  const flags = parseFlags(kind, node.flags);
  warnBrokenExecForm(kind, node, node.args, 'words', warn);
  if (node.args.length < 2) {
    throw new InstructionProblem(
      `${kind} requires at least two arguments, but only one was provided. Destination could not be determined`,
    );
  }
  const dest = node.args[node.args.length - 1]!;
  const inHeredocForm = !node.json;
  if (inHeredocForm && parseHeredocWord(dest)) throw new InstructionProblem(`${kind} cannot accept a heredoc as a destination`);
  const bodies = new Map(node.heredocs.map((h) => [h.name, h] as const));
  const sources: string[] = [];
  const inlineSources: InlineFile[] = [];
  for (const src of node.args.slice(0, -1)) {
    const heredoc = inHeredocForm ? parseHeredocWord(src) : undefined;
    if (heredoc) inlineSources.push(inlineFile(heredoc, bodies.get(heredoc.name)));
    else sources.push(src);
  }
  const copy: CopyInstruction = {
    kind,
    ...base,
    sources,
    inlineSources,
    dest,
    chown: flags.string('chown'),
    chmod: flags.string('chmod'),
    link: flags.bool('link') ?? false,
    parents: kind === 'COPY' ? (flags.bool('parents') ?? false) : false,
    exclude: flags.strings('exclude'),
  };
  if (kind === 'COPY') copy.from = flags.string('from');
  else {
    copy.checksum = flags.string('checksum');
    copy.keepGitDir = flags.bool('keep-git-dir');
    copy.unpack = flags.bool('unpack');
  }
  return copy;
}

function inlineFile(word: Heredoc, body: Heredoc | undefined): InlineFile {
  const content = body?.content ?? '';
  return { name: word.name, data: word.chomp ? chompHeredocContent(content) : content, expand: word.expand };
}

function typeHealthcheck(node: InstructionNode, base: Base, warn: Warn): HealthcheckInstruction {
  if (node.args.length === 0) throw atLeastOne('HEALTHCHECK');
  const type = node.args[0]!.toUpperCase();
  const rest = node.args.slice(1);
  const health: Healthcheck = { test: [], interval: 0, timeout: 0, startPeriod: 0, startInterval: 0, retries: 0 };
  if (type === 'NONE') {
    if (rest.length !== 0) throw new InstructionProblem('HEALTHCHECK NONE takes no arguments');
    ignoredFlags('HEALTHCHECK NONE', node, warn);
    health.test = ['NONE'];
    return { kind: 'HEALTHCHECK', ...base, health };
  }
  const flags = parseFlags('HEALTHCHECK', node.flags);
  if (type !== 'CMD') throw new InstructionProblem(`Unknown type "${node.args[0]}" in HEALTHCHECK (try CMD)`);
  warnBrokenExecForm('HEALTHCHECK CMD', node, rest, 'healthcheck-shell', warn);
  const { command } = commandLine(node, rest);
  if (command.length === 0) throw new InstructionProblem('Missing command after HEALTHCHECK CMD');
  health.test = [node.json ? 'CMD' : 'CMD-SHELL', ...command];
  health.interval = interval(flags, 'interval');
  health.timeout = interval(flags, 'timeout');
  health.startPeriod = interval(flags, 'start-period');
  health.startInterval = interval(flags, 'start-interval');
  const retries = flags.string('retries');
  if (retries !== undefined) {
    if (!/^[+-]?\d+$/.test(retries)) throw new InstructionProblem(`invalid --retries value "${retries}": expected a whole number`);
    health.retries = Number(retries);
    // Go's strconv.ParseInt(value, 10, 32).
    if (health.retries > 2 ** 31 - 1 || health.retries < -(2 ** 31)) {
      throw new InstructionProblem(`invalid --retries value "${retries}": value out of range`);
    }
    if (health.retries < 0) throw new InstructionProblem(`--retries cannot be negative (${retries})`);
    health.retries ||= 0; // -0
  }
  return { kind: 'HEALTHCHECK', ...base, health };
}

function interval(flags: ParsedFlags, name: string): number {
  const text = flags.string(name);
  if (!text) return 0;
  let ns: number;
  try {
    ns = parseDuration(text);
  } catch (err) {
    throw new InstructionProblem(`invalid --${name}: ${(err as Error).message}`);
  }
  if (ns !== 0 && ns < 1e6) throw new InstructionProblem(`Interval "${name}" cannot be less than 1ms`);
  return ns;
}

function typeOnbuild(node: InstructionNode, base: Base, warn: Warn): OnbuildInstruction {
  const sub = node.sub;
  if (!sub) throw atLeastOne('ONBUILD');
  parseFlags('ONBUILD', node.flags);
  const trigger = sub.keyword.toUpperCase();
  if (trigger === 'ONBUILD') throw new InstructionProblem('Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
  if (trigger === 'FROM' || trigger === 'MAINTAINER') {
    throw new InstructionProblem(`${trigger} isn't allowed as an ONBUILD trigger`);
  }
  let expression = node.original.replace(/^\s*ONBUILD\s*/i, '');
  for (const heredoc of node.heredocs) expression += `\n${heredoc.content}${heredoc.name}`;
  let typedTrigger: Instruction | undefined;
  try {
    typedTrigger = typeNode({ ...sub, heredocs: node.heredocs }, base, warn);
  } catch (err) {
    if (!(err instanceof InstructionProblem)) throw err;
    warn(
      `ONBUILD ${expression.split('\n')[0]}: ${err.message}; the trigger is stored as docker build stores it, and every build FROM this image will fail on it`,
    );
  }
  return { kind: 'ONBUILD', ...base, expression, trigger: typedTrigger };
}

const NETWORK_MODES = new Set(['default', 'none', 'host']);
const SECURITY_MODES = new Set(['sandbox', 'insecure']);

function typeNode(node: InstructionNode, base: Base, warn: Warn): Instruction {
  const keyword = node.keyword.toUpperCase();
  const args = node.args;
  switch (keyword) {
    case 'FROM':
      return typeFrom(node, base);
    case 'ARG': {
      if (args.length === 0) throw atLeastOne('ARG');
      ignoredFlags('ARG', node, warn);
      return {
        kind: 'ARG',
        ...base,
        args: args.map((word) => {
          const eq = word.indexOf('=');
          if (eq < 0) return { key: word };
          if (eq === 0) throw new InstructionProblem('ARG names can not be blank');
          return { key: word.slice(0, eq), value: word.slice(eq + 1) };
        }),
      };
    }
    case 'ENV':
      parseFlags('ENV', node.flags);
      return { kind: 'ENV', ...base, env: keyValues('ENV', args) };
    case 'LABEL':
      parseFlags('LABEL', node.flags);
      return { kind: 'LABEL', ...base, labels: keyValues('LABEL', args) };
    case 'MAINTAINER':
      parseFlags('MAINTAINER', node.flags);
      return { kind: 'MAINTAINER', ...base, maintainer: oneArgument('MAINTAINER', node) };
    case 'EXPOSE':
      parseFlags('EXPOSE', node.flags);
      if (args.length === 0) throw atLeastOne('EXPOSE');
      return { kind: 'EXPOSE', ...base, ports: args };
    case 'WORKDIR':
      parseFlags('WORKDIR', node.flags);
      return { kind: 'WORKDIR', ...base, path: oneArgument('WORKDIR', node) };
    case 'USER':
      parseFlags('USER', node.flags);
      return { kind: 'USER', ...base, user: oneArgument('USER', node) };
    case 'VOLUME': {
      if (args.length === 0) throw atLeastOne('VOLUME');
      parseFlags('VOLUME', node.flags);
      warnBrokenExecForm('VOLUME', node, args, 'words', warn);
      const volumes = args.map((v) => v.trim());
      if (volumes.some((v) => v === '')) throw new InstructionProblem('VOLUME specified can not be an empty string');
      return { kind: 'VOLUME', ...base, volumes };
    }
    case 'COPY':
    case 'ADD':
      return typeCopy(keyword, node, base, warn);
    case 'RUN': {
      const flags = parseFlags('RUN', node.flags);
      const network = flags.raw('network');
      if (network !== undefined && !NETWORK_MODES.has(network)) {
        throw new InstructionProblem(`invalid network mode "${network}" (use default, none or host)`);
      }
      const security = flags.raw('security');
      if (security !== undefined && !SECURITY_MODES.has(security)) {
        throw new InstructionProblem(`security "${security}" is not valid (use sandbox or insecure)`);
      }
      if (args.length === 0 && node.json === false) throw atLeastOne('RUN');
      return {
        kind: 'RUN',
        ...base,
        ...commandLine(node, args),
        files: node.heredocs.map((h) => ({ name: h.name, data: h.content, expand: h.expand, chomp: h.chomp })),
        mounts: flags.strings('mount'),
        network,
        security,
      };
    }
    case 'CMD':
    case 'ENTRYPOINT':
      parseFlags(keyword, node.flags);
      warnBrokenExecForm(keyword, node, args, 'shell', warn);
      return { kind: keyword, ...base, ...commandLine(node, args) };
    case 'SHELL':
      parseFlags('SHELL', node.flags);
      if (args.length === 0) throw atLeastOne('SHELL');
      if (!node.json) {
        // BuildKit fails here too: SHELL has no shell form to fall back to.
        const quotes = /^\s*\[.*'/.test(args[0]!) ? ' with double quotes' : '';
        throw new InstructionProblem(`SHELL requires the arguments to be in JSON form${quotes}, e.g. SHELL ["/bin/bash", "-c"]`);
      }
      return { kind: 'SHELL', ...base, shell: args };
    case 'HEALTHCHECK':
      return typeHealthcheck(node, base, warn);
    case 'STOPSIGNAL':
      if (args.length !== 1) throw exactlyOne('STOPSIGNAL');
      ignoredFlags('STOPSIGNAL', node, warn);
      return { kind: 'STOPSIGNAL', ...base, signal: args[0]! };
    case 'ONBUILD':
      return typeOnbuild(node, base, warn);
    default: {
      const hint = suggest(keyword, INSTRUCTION_NAMES);
      throw new InstructionProblem(`unknown instruction: ${node.keyword}${hint ? ` (did you mean ${hint.toLowerCase()}?)` : ''}`);
    }
  }
}

/**
 * Type one parsed instruction. Throws DockerfileError naming file:line and the instruction;
 * warnings about it (an instruction docker builds, but likely not as meant) go to `warnings`.
 */
export function typeInstruction(node: InstructionNode, file: string, warnings?: DockerfileWarning[]): Instruction {
  const base: Base = { line: node.startLine, endLine: node.endLine, original: node.original };
  const warn: Warn = (message, rule) => warnings?.push({ file, line: node.startLine, message, ...(rule ? { rule } : {}) });
  try {
    return typeNode(node, base, warn);
  } catch (err) {
    if (err instanceof InstructionProblem) {
      throw new DockerfileError(err.message, { file, line: node.startLine, endLine: node.endLine }, node.original);
    }
    throw err;
  }
}

export interface Stage {
  /** Position among the stages, from 0. */
  index: number;
  /** `AS name`, lower-cased. */
  name?: string;
  from: FromInstruction;
  instructions: Exclude<Instruction, FromInstruction>[];
}

export interface DockerfilePlan {
  file: string;
  /** ARGs before the first FROM: usable in FROM lines only (unless redeclared in a stage). */
  metaArgs: ArgInstruction[];
  stages: Stage[];
  /**
   * What docker build builds but the author likely did not mean (the parser's empty continuation
   * lines, exec form that is not JSON, ignored flags, ...), after `# check=skip=`. The library
   * never prints: a front end shows them (formatDockerfileWarning), the build as events.
   */
  warnings: DockerfileWarning[];
}

/** Type every instruction and group them into stages, as BuildKit does before building. */
export function toStages(ast: DockerfileAst): DockerfilePlan {
  const checks = parseCheckDirective(ast.directives.check, ast.file);
  const metaArgs: ArgInstruction[] = [];
  const stages: Stage[] = [];
  const names = new Map<string, number>();
  const warnings: DockerfileWarning[] = ast.warnings.map((w) => ({ file: ast.file, ...w }));
  for (const node of ast.instructions) {
    const instruction = typeInstruction(node, ast.file, warnings);
    const location = { file: ast.file, line: node.startLine, endLine: node.endLine };
    if (instruction.kind === 'FROM') {
      if (instruction.stageName !== undefined) {
        // BuildKit builds it, with a lint warning: `FROM x` takes the latest stage x above it,
        // `COPY --from=x` and `--target x` the last one in the file (engine/stage-graph.ts).
        const previous = names.get(instruction.stageName);
        if (previous !== undefined) {
          warnings.push({
            file: ast.file,
            line: node.startLine,
            rule: 'DuplicateStageName',
            message:
              `Duplicate stage name "${instruction.stageName}", stage names should be unique (also used at line ${previous}): ` +
              `FROM ${instruction.stageName} below takes the latest stage of that name above it, COPY --from=${instruction.stageName} and --target ${instruction.stageName} the last one`,
          });
        }
        names.set(instruction.stageName, node.startLine);
      }
      stages.push({ index: stages.length, name: instruction.stageName, from: instruction, instructions: [] });
      continue;
    }
    const current = stages[stages.length - 1];
    if (current) current.instructions.push(instruction);
    else if (instruction.kind === 'ARG') metaArgs.push(instruction);
    else {
      throw new DockerfileError(
        `no build stage in current context: ${instruction.kind} comes before any FROM; start the Dockerfile with FROM (only ARG may come before it)`,
        location,
        node.original,
      );
    }
  }
  if (stages.length === 0) {
    throw new DockerfileError('the Dockerfile has no FROM instruction; add one (FROM scratch for an empty base)', {
      file: ast.file,
      line: ast.startLine,
    });
  }
  warnings.sort((a, b) => a.line - b.line);
  return { file: ast.file, metaArgs, stages, warnings: applyChecks(warnings, checks, ast.file) };
}

/** Closest name by edit distance, if close enough to be a likely typo. */
export function suggest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = editDistance(word.toUpperCase(), candidate.toUpperCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.max(1, Math.floor(word.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}
