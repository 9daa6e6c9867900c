// Runs the committed bundle (packages/action/dist) the way the GitHub runner runs a node action:
// `node dist/main.js` then `node dist/post.js`, with INPUT_* (action.yml's defaults filled in as
// the runner does), GITHUB_* and RUNNER_* variables, the event payload in GITHUB_EVENT_PATH, and
// the file commands GITHUB_OUTPUT, GITHUB_STATE, GITHUB_STEP_SUMMARY and GITHUB_ENV, whose
// contents come back parsed. The post step gets the main step's state as STATE_* variables.

import { execFile } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
export const actionYml = join(repoRoot, 'action.yml');

interface ActionYml {
  inputs: Record<string, { description: string; default?: string; required?: boolean }>;
  outputs: Record<string, { description: string }>;
  runs: { using: string; main: string; post?: string; 'post-if'?: string };
}

export function readActionYml(): ActionYml {
  return parseYaml(readFileSync(actionYml, 'utf8')) as ActionYml;
}

/** The runner's variable for an input: INPUT_ + the name uppercased, spaces as underscores. */
export function inputVariable(name: string): string {
  return `INPUT_${name.replace(/ /g, '_').toUpperCase()}`;
}

/** `name<<DELIM\nvalue\nDELIM` and `name=value` lines, as the runner reads file commands. */
export function parseFileCommand(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    if (heredoc) {
      const [, name, delimiter] = heredoc;
      const value: string[] = [];
      for (i++; i < lines.length && lines[i] !== delimiter; i++) value.push(lines[i]!);
      out[name!] = value.join('\n');
    } else if (line.includes('=')) {
      out[line.slice(0, line.indexOf('='))] = line.slice(line.indexOf('=') + 1);
    }
  }
  return out;
}

export interface StepResult {
  code: number;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  state: Record<string, string>;
  exportedEnv: Record<string, string>;
  summary: string;
}

export interface RunnerJob {
  /** The checkout (GITHUB_WORKSPACE). */
  workspace: string;
  /** The runner's home: a new one per job means an empty Kiln store, as on a fresh hosted runner. */
  home: string;
  /** GITHUB_* variables of the event (GITHUB_EVENT_NAME, GITHUB_REF, GITHUB_SHA, ...). */
  github: Record<string, string>;
  /** The event payload (written to GITHUB_EVENT_PATH). */
  event: object;
  inputs: Record<string, string>;
  /** More variables: the cache service's, a test's own. */
  env?: Record<string, string>;
  /** Run the steps as this user (hosted runners run jobs as `runner`, with passwordless sudo). */
  user?: { uid: number; gid: number };
}

const bundle = (entry: 'main' | 'post') => join(repoRoot, 'packages/action/dist', `${entry}.js`);

function runNode(script: string, env: Record<string, string>, cwd: string, user?: { uid: number; gid: number }): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolvePromise) => {
    execFile(process.execPath, [script], { env, cwd, encoding: 'utf8', maxBuffer: 64 << 20, timeout: 240_000, ...(user ?? {}) }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolvePromise({ code, stdout, stderr });
    });
  });
}

/** Runs main, then (as `post-if: success()` says) post when main succeeded. */
export async function runJob(job: RunnerJob): Promise<{ main: StepResult; post: StepResult | undefined }> {
  const files = mkdtempSync(join(tmpdir(), 'kiln-runner-'));
  const runnerTemp = join(files, 'temp');
  mkdirSync(runnerTemp);
  if (job.user) for (const dir of [files, runnerTemp]) chownSync(dir, job.user.uid, job.user.gid);
  const eventPath = join(files, 'event.json');
  writeFileSync(eventPath, JSON.stringify(job.event));
  const defaults: Record<string, string> = {};
  for (const [name, input] of Object.entries(readActionYml().inputs)) if (input.default !== undefined) defaults[inputVariable(name)] = input.default;
  const inputs = Object.fromEntries(Object.entries(job.inputs).map(([k, v]) => [inputVariable(k), v]));
  const base: Record<string, string> = {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: job.home,
    KILN_OFFLINE: '1',
    CI: 'true',
    GITHUB_ACTIONS: 'true',
    RUNNER_OS: 'Linux',
    RUNNER_ARCH: 'X64',
    RUNNER_TEMP: runnerTemp,
    GITHUB_WORKSPACE: job.workspace,
    GITHUB_EVENT_PATH: eventPath,
    GITHUB_SERVER_URL: 'https://github.com',
    ...job.github,
    ...defaults,
    ...inputs,
    ...(job.env ?? {}),
  };

  const step = async (entry: 'main' | 'post', extra: Record<string, string>): Promise<StepResult> => {
    const commands = { GITHUB_OUTPUT: 'output', GITHUB_STATE: 'state', GITHUB_STEP_SUMMARY: 'summary', GITHUB_ENV: 'env' };
    const env: Record<string, string> = { ...base, ...extra };
    for (const [variable, name] of Object.entries(commands)) {
      env[variable] = join(files, `${entry}-${name}`);
      writeFileSync(env[variable]!, '');
      if (job.user) chownSync(env[variable]!, job.user.uid, job.user.gid);
    }
    const r = await runNode(bundle(entry), env, job.workspace, job.user);
    const read = (name: string) => readFileSync(join(files, `${entry}-${name}`), 'utf8');
    return { ...r, outputs: parseFileCommand(read('output')), state: parseFileCommand(read('state')), exportedEnv: parseFileCommand(read('env')), summary: read('summary') };
  };

  const main = await step('main', {});
  if (main.code !== 0) return { main, post: undefined };
  const stateEnv = Object.fromEntries(Object.entries(main.state).map(([k, v]) => [`STATE_${k}`, v]));
  const post = await step('post', stateEnv);
  return { main, post };
}
