/**
 * The GitHub Actions run context (what @actions/github's `context` holds), read from the
 * `GITHUB_*` environment variables and the event payload file they point to.
 */
import { readFileSync } from 'node:fs';
import { KilnError } from '@kiln/core';

/** The webhook event payload (GITHUB_EVENT_PATH) as parsed JSON; `{}` when there is none. */
export type EventPayload = Record<string, unknown>;

export interface GitHubContext {
  eventName: string;
  /** The commit that triggered the run (GITHUB_SHA). */
  sha: string;
  /** GITHUB_REF, except for pull_request_target: `refs/pull/<number>/merge`. */
  ref: string;
  workflow: string;
  action: string;
  actor: string;
  job: string;
  runNumber: number;
  runId: number;
  runAttempt: number;
  repo: { owner: string; repo: string };
  payload: EventPayload;
}

export interface GitHubContextOptions {
  /** Reads the event payload file; returns undefined when it does not exist. Defaults to the file system. */
  readFile?: (path: string) => string | undefined;
}

export function githubContextFromEnv(env: NodeJS.ProcessEnv, opts: GitHubContextOptions = {}): GitHubContext {
  const payload = readPayload(env.GITHUB_EVENT_PATH, opts.readFile ?? readFileIfExists);
  const repository = env.GITHUB_REPOSITORY || 'docker/repo';
  const [owner = 'docker', repo = 'repo'] = repository.includes('/') ? repository.split('/', 2) : [];
  const eventName = env.GITHUB_EVENT_NAME || '';
  let ref = env.GITHUB_REF || '';
  // pull_request_target runs on the base branch; the PR's merge ref is what the tags are about.
  if (/pull_request_target/.test(eventName)) ref = `refs/pull/${String(payload.number)}/merge`;
  return {
    eventName,
    sha: env.GITHUB_SHA || '',
    ref,
    workflow: env.GITHUB_WORKFLOW || '',
    action: env.GITHUB_ACTION || '',
    actor: env.GITHUB_ACTOR || '',
    job: env.GITHUB_JOB || '',
    runNumber: Number(env.GITHUB_RUN_NUMBER || 0),
    runId: Number(env.GITHUB_RUN_ID || 0),
    runAttempt: Number(env.GITHUB_RUN_ATTEMPT || 1),
    repo: { owner, repo },
    payload,
  };
}

/**
 * The commit the metadata describes: the run's sha, or with `prHeadSha` on a pull request event
 * the head commit of the PR instead of the merge commit GitHub made for the run.
 */
export function effectiveSha(ctx: GitHubContext, prHeadSha = false): string {
  if (prHeadSha && /pull_request/.test(ctx.eventName)) {
    const head = payloadString(ctx.payload, 'pull_request', 'head', 'sha');
    if (head !== undefined) return head;
  }
  return ctx.sha;
}

/**
 * The commit date as the event payload records it: the timestamp of the pushed commit whose id is
 * the sha, else head_commit's when it is that commit. Undefined when the payload does not say
 * (tags, pull requests, schedules, ...): then ask the GitHub API or use the current time.
 */
export function commitDateFromPayload(ctx: GitHubContext, options: { prHeadSha?: boolean } = {}): Date | undefined {
  const sha = effectiveSha(ctx, options.prHeadSha);
  const commits = payloadValue(ctx.payload, 'commits');
  const pushed = Array.isArray(commits) ? commits.find((commit) => payloadString(commit, 'id') === sha) : undefined;
  const timestamp =
    payloadString(pushed, 'timestamp') ??
    (payloadString(ctx.payload, 'head_commit', 'id') === sha ? payloadString(ctx.payload, 'head_commit', 'timestamp') : undefined);
  if (timestamp === undefined) return undefined;
  const date = new Date(timestamp);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** payload.a.b... or undefined when a step is missing. */
export function payloadValue(payload: unknown, ...path: string[]): unknown {
  let value = payload;
  for (const key of path) {
    if (typeof value !== 'object' || value === null || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** payload.a.b... when it is a string. */
export function payloadString(payload: unknown, ...path: string[]): string | undefined {
  const value = payloadValue(payload, ...path);
  return typeof value === 'string' ? value : undefined;
}

function readPayload(path: string | undefined, readFile: (path: string) => string | undefined): EventPayload {
  if (!path) return {};
  let text: string | undefined;
  try {
    text = readFile(path);
  } catch (err) {
    throw new KilnError(`GITHUB_EVENT_PATH: cannot read the event payload ${JSON.stringify(path)} (${(err as Error).message})`);
  }
  if (text === undefined) return {};
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch (err) {
    throw new KilnError(`GITHUB_EVENT_PATH: the event payload ${JSON.stringify(path)} is not valid JSON (${(err as Error).message})`);
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw new KilnError(`GITHUB_EVENT_PATH: the event payload ${JSON.stringify(path)} is not a JSON object`);
  }
  return payload as EventPayload;
}

function readFileIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
