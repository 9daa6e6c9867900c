// RUN: the command runs in the sandbox (run/) over the stage's filesystem, and what it changed
// becomes the step's layer. Arguments, environment, history text and the cache key follow
// BuildKit's dockerfile2llb (dispatchRun), so `docker history` reads the same.

import { chmod, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KilnError } from '../../errors.js';
import { chompHeredocContent, parseHeredocWord } from '../../dockerfile/heredoc.js';
import type { Instruction } from '../../dockerfile/instructions.js';
import type { ContainerConfig } from '../../oci/types.js';
import { checkRunnablePlatform } from '../../run/emulation.js';
import { executeRun } from '../../run/step-runner.js';
import { stepMounts } from '../run-mounts.js';
import { SecretMask } from '../secret-mask.js';
import { PROXY_ARGS } from '../scope.js';
import type { StageContext, StepOutcome } from '../stage-state.js';
import type { StepInput } from './step.js';

type RunInstruction = Extract<Instruction, { kind: 'RUN' }>;

/** Where a heredoc script with a `#!` line is mounted, as BuildKit does. */
const PIPES_DIR = '/dev/pipes';

interface Command {
  args: string[];
  /** A heredoc script to mount at /dev/pipes/NAME (mode 0755), when the RUN is one with `#!`. */
  script?: { name: string; data: string };
}

/** The argv: exec form as written; shell form through SHELL; heredocs as BuildKit turns them into a command. */
export function runCommand(ins: RunInstruction, shell: readonly string[] | undefined): Command {
  let args = ins.command;
  let script: Command['script'];
  if (ins.files.length > 0) {
    const line = args[0] ?? '';
    const first = ins.files[0]!;
    if (parseHeredocWord(line)) {
      // `RUN <<EOF`: the body is the command (or, with a `#!` line, a script file to run).
      const data = first.chomp ? chompHeredocContent(first.data) : first.data;
      if (data.startsWith('#!')) {
        script = { name: first.name, data };
        args = [`${PIPES_DIR}/${first.name}`];
      } else args = [data];
    } else {
      // `RUN python3 <<EOF ...`: the shell gets the line and the heredocs back as written.
      args = [line + ins.files.map((f) => `\n${f.data}${f.name}`).join('')];
    }
  }
  if (ins.prependShell) args = [...(shell?.length ? shell : ['/bin/sh', '-c']), args.join(' ')];
  return { args, script };
}

/**
 * The environment: the stage's variables in order (image ENV, then ENV and valued ARGs as
 * written; the last one wins), then proxy build args in both cases even when undeclared.
 */
export function runEnv(stage: StageContext, buildArgs: Readonly<Record<string, string>> | undefined): string[] {
  const env = new Map(stage.vars);
  for (const [key, value] of Object.entries(buildArgs ?? {})) {
    if (!PROXY_ARGS.has(key)) continue;
    env.set(key.toUpperCase(), value);
    env.set(key.toLowerCase(), value);
  }
  if (!env.has('PATH')) env.set('PATH', '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
  return [...env].map(([k, v]) => `${k}=${v}`);
}

/** `RUN |2 A=1 B=2 /bin/sh -c cmd`: the ARGs of the stage with their current values, then the argv. */
export function runHistory(args: readonly string[], stage: StageContext): string {
  const declared = [...stage.scope.values.keys()];
  const shown = declared.map((k) => `${k}=${stage.vars.get(k) ?? stage.scope.get(k) ?? ''}`);
  return `RUN ${[...(shown.length ? [`|${shown.length}`, ...shown] : []), ...args].join(' ')}`;
}

export async function runStep(input: StepInput<RunInstruction>): Promise<StepOutcome> {
  const { instruction: ins, state, config, stage, build } = input;
  const privileged = ins.security === 'insecure';
  if (privileged && !build.options.allow?.includes('security.insecure')) {
    throw new KilnError(
      'RUN --security=insecure needs the security.insecure entitlement, which this build does not grant: pass --allow security.insecure ' +
        '(Nx: "allow": ["security.insecure"]; the Action: allow: security.insecure), as docker buildx build does',
    );
  }
  const c: ContainerConfig = (config.config ??= {});
  const command = runCommand(ins, c.Shell ?? undefined);
  const env = runEnv(stage, build.options.buildArgs);
  // Undeclared proxy args reach the command but not the cache key, as in BuildKit.
  const keyEnv = runEnv(stage, undefined);
  const network = ins.network === 'none' ? 'none' : 'host';
  const user = c.User ?? '';
  const cwd = c.WorkingDir || '/';
  const createdBy = `${runHistory(command.args, stage)} # buildkit`;
  const mounts = await stepMounts(ins.mounts, input.expand, cwd, build);
  const keyParts = [
    'RUN',
    JSON.stringify(command.args),
    JSON.stringify(keyEnv),
    `user=${user}`,
    `cwd=${cwd}`,
    `network=${network}`,
    ...(privileged ? ['security=insecure'] : []),
    ...(command.script ? [`script=${command.script.name}\0${command.script.data}`] : []),
    ...mounts.keyParts,
  ];

  return build.layerStep(state, config, createdBy, keyParts, async () => {
    checkRunnablePlatform(state.platform);
    await build.fetchLayers(state.layers);
    const lower = await state.view.index();
    const tail = new OutputTail();
    const pipes = command.script ? await scriptDir(build, command.script) : undefined;
    // Secret values never reach the log or the error: masked as the output streams.
    const masks = { stdout: new SecretMask(mounts.secretValues), stderr: new SecretMask(mounts.secretValues) };
    const show = (stream: 'stdout' | 'stderr', chunk: Buffer) => {
      if (chunk.length === 0) return;
      tail.add(chunk);
      input.output(stream, chunk);
    };
    try {
      const result = await mounts.use((open) =>
        executeRun(
          build.store,
          {
            layers: state.layers,
            lower: [...lower],
            args: command.args,
            env: [...env, ...open.env.filter((e) => !env.some((mine) => mine.startsWith(e.slice(0, e.indexOf('=') + 1))))],
            secretEnv: open.secretEnv,
            cwd,
            user,
            network,
            privileged,
            binds: [...(pipes ? [{ source: pipes, destination: PIPES_DIR, readonly: true }] : []), ...open.binds],
            tmpfs: open.tmpfs,
            memoryFiles: open.memoryFiles,
            sockets: open.sockets,
            layer: build.layerOptions(),
            ownership: open.ownership,
            removeAfter: open.removeAfter,
          },
          {
            onOutput: (stream, chunk) => show(stream, masks[stream].push(chunk)),
            onWarning: (message) => build.options.onEvent?.({ type: 'warning', message }),
            signal: build.options.signal,
          },
        ),
      );
      for (const stream of ['stdout', 'stderr'] as const) show(stream, masks[stream].flush());
      if (result.exitCode !== 0 || !result.layer) {
        const last = tail.lines();
        throw new KilnError(
          `process "${command.args.join(' ')}" did not complete successfully: exit code: ${result.exitCode}` +
            (last.length ? `\n  last output:\n${last.map((l) => `    ${l}`).join('\n')}` : ''),
        );
      }
      return { written: result.layer };
    } finally {
      if (pipes) await rm(pipes, { recursive: true, force: true });
    }
  });
}

/** The heredoc script in a directory of its own, mounted read-only at /dev/pipes. */
async function scriptDir(build: StepInput['build'], script: { name: string; data: string }): Promise<string> {
  const dir = await build.store.makeTempDir('pipes-');
  // Readable by any USER the step runs as, as BuildKit's /dev/pipes is.
  await chmod(dir, 0o755);
  await writeFile(join(dir, script.name), script.data);
  await chmod(join(dir, script.name), 0o755);
  return dir;
}

/** The last lines a command printed, for the error when it fails. */
class OutputTail {
  private text = '';
  add(chunk: Buffer): void {
    this.text = (this.text + chunk.toString('utf8')).slice(-8192);
  }
  lines(max = 10): string[] {
    return this.text.split('\n').filter((l) => l.trim() !== '').slice(-max);
  }
}
