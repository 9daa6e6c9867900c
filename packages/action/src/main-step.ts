// The Action's main step: tags and labels from the GitHub context, restore the layer cache, build
// with Kiln's engine, push, set the outputs, write the job summary, and leave the post step what
// it needs to save the cache. A thin shell: the work is in @kiln/core and the modules beside this one.

import { existsSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import * as cache from '@actions/cache';
import * as core from '@actions/core';
import { getExecOutput } from '@actions/exec';
import {
  KilnError,
  build,
  buildMetadata,
  createRegistryClient,
  loadSecrets,
  openStore,
  parseEntitlements,
  parseSshSpecs,
  parseReference,
  progressReporter,
  pushToRegistry,
  pushedLine,
  resultLines,
  sourceDateEpoch,
  type BuildResult,
  type PushedImage,
  type RegistryClient,
  type Store,
} from '@kiln/core';
import { readInputs, type ActionInputs } from './inputs.js';
import { isExactHit, planLayerCache, type LayerCachePlan } from './layer-cache.js';
import { planCacheMounts, restoreCacheMounts } from './cache-mounts.js';
import { imageMetadata, type CommitDateLookup } from './metadata.js';
import { STATE_KEY, type PostState } from './post-state.js';
import { summaryRows } from './summary.js';

/** The runtime variables that `export-runtime-env` hands to later steps. */
const RUNTIME_ENV = ['ACTIONS_RUNTIME_TOKEN', 'ACTIONS_RESULTS_URL', 'ACTIONS_CACHE_URL', 'ACTIONS_CACHE_SERVICE_V2'];

export async function runMain(): Promise<void> {
  const started = Date.now();
  const workspace = process.env['GITHUB_WORKSPACE'] || process.cwd();
  let context = workspace;
  try {
    const inputs = readInputs((name) => core.getInput(name));
    if (inputs.login) core.setSecret(inputs.login.password);
    for (const value of Object.values(inputs.secrets.values)) maskSecret(value);
    for (const [id, file] of Object.entries(inputs.secrets.files)) inputs.secrets.files[id] = resolve(workspace, file);
    if (inputs.exportRuntimeEnv) exportRuntimeEnv();
    context = resolve(workspace, inputs.context);
    const dockerfile = inputs.file ? resolve(workspace, inputs.file) : join(context, 'Dockerfile');

    const meta = await imageMetadata(inputs, process.env, gitCommitDate(workspace));
    for (const warning of meta.warnings) core.warning(warning);
    if (inputs.push && meta.tags.length === 0) {
      throw new KilnError('input push is true but there is no tag to push to: set images (and tags rules), or full references in tags');
    }

    const plan =
      inputs.cache && !inputs.noCache
        ? planLayerCache({
            runnerOs: process.env['RUNNER_OS'] ?? process.platform,
            runnerArch: process.env['RUNNER_ARCH'] ?? process.arch,
            cacheKey: inputs.cacheKey,
            dockerfile,
            context,
            target: inputs.target,
            platform: inputs.platform,
          })
        : undefined;
    const restoredKey = plan ? await core.group('Restore the layer cache', () => restoreLayerCache(plan)) : undefined;
    const exactHit = plan ? isExactHit(plan, restoredKey) : false;

    const store = await openStore();
    const mounts = plan && inputs.cacheMounts ? planCacheMounts(plan, store.root, inputs.cacheMountsLimit) : undefined;
    if (mounts) await core.group('Restore the RUN cache mounts', () => restoreCacheMounts(mounts));
    const buildStarted = Date.now();
    const registry = createRegistryClient(inputs.login ? { login: inputs.login } : {});
    let result: BuildResult;
    let pushed: PushedImage | undefined;
    try {
      result = await core.group(`Build ${relative(workspace, dockerfile) || dockerfile}`, () =>
        buildImage(store, inputs, { context, dockerfile, tags: meta.tags, labels: meta.labels, annotations: meta.annotations, plan, registry }),
      );
      if (inputs.push) {
        pushed = await core.group(`Push ${meta.tags.length} tag${meta.tags.length === 1 ? '' : 's'}`, async () => {
          // Layers are stored (and cached) plain; the registry gets them gzipped unless compression is none.
          const push = await pushToRegistry(store, registry, result.manifestDigest, result.tags.map((t) => parseReference(t)), {
            compression: inputs.compression === 'none' ? { type: 'none' } : { type: 'gzip', level: inputs.gzipLevel },
          });
          core.info(pushedLine(result.tags, push));
          return { digest: push.digest, tags: result.tags };
        });
      }
    } finally {
      // Ends what a failed build left downloading (base layers fetched ahead for a RUN).
      registry.cancel();
    }

    core.setOutput('digest', pushed?.digest ?? result.manifestDigest);
    core.setOutput('imageid', result.imageId);
    core.setOutput('tags', meta.tags.join('\n'));
    core.setOutput('labels', Object.entries(meta.labels).map(([k, v]) => `${k}=${v}`).join('\n'));
    core.setOutput('annotations', Object.entries(meta.annotations).map(([k, v]) => `${k}=${v}`).join('\n'));
    core.setOutput('version', meta.version ?? '');
    core.setOutput('metadata', JSON.stringify(buildMetadata(result, pushed)));
    core.setOutput('cache-hit', String(exactHit));

    if (plan) {
      const state: PostState = {
        path: plan.path,
        dir: plan.dir,
        key: plan.key,
        ...(restoredKey ? { restoredKey } : {}),
        ...(mounts ? { mounts: { ...mounts, since: buildStarted } } : {}),
      };
      core.saveState(STATE_KEY, JSON.stringify(state));
    }
    if (inputs.summary && process.env['GITHUB_STEP_SUMMARY']) {
      const rows = summaryRows({ result, pushedDigest: pushed?.digest, cache: { enabled: plan !== undefined, restoredKey, exactHit }, durationMs: Date.now() - started });
      await core.summary
        .addHeading('Kiln image', 3)
        .addTable(rows.map(([label, value]) => [{ data: label, header: true }, value]))
        .write();
    }
  } catch (err) {
    fail(err, context, workspace);
  }
}

/** What the build needs beyond the inputs: paths, computed metadata, the layer cache, a registry client. */
interface BuildSetup {
  context: string;
  dockerfile: string;
  tags: string[];
  labels: Record<string, string>;
  annotations: Record<string, string>;
  plan: LayerCachePlan | undefined;
  registry: RegistryClient;
}

async function buildImage(store: Store, inputs: ActionInputs, p: BuildSetup): Promise<BuildResult> {
  const epoch = sourceDateEpoch();
  // The restored directory is imported first and replaced by what this build used afterwards;
  // a damaged cache or a failed export is a warning, never a failed build.
  const layerCache = p.plan ? [{ type: 'local' as const, path: p.plan.dir, ignoreError: true }] : [];
  const result = await build(store, {
    context: p.context,
    dockerfile: p.dockerfile,
    tags: p.tags,
    buildArgs: inputs.buildArgs,
    labels: p.labels,
    annotations: p.annotations,
    ...(inputs.target ? { target: inputs.target } : {}),
    ...(inputs.platform ? { platform: inputs.platform } : {}),
    noCache: inputs.noCache,
    registry: p.registry,
    cacheFrom: layerCache,
    cacheTo: layerCache,
    secrets: secretValues(inputs),
    ssh: parseSshSpecs(inputs.ssh, process.env, 'input ssh'),
    allow: parseEntitlements(inputs.allow, 'input allow'),
    ...(epoch !== undefined ? { epoch } : {}),
    onEvent: progressReporter({ info: (line) => core.info(line), warn: (line) => core.warning(line) }),
  });
  for (const line of resultLines(result)) core.info(line);
  return result;
}

/** The secrets' values: the literal ones (masked as soon as the inputs are read), files, variables (masked here). */
function secretValues(inputs: ActionInputs): Record<string, Uint8Array> {
  const { values, files, envs } = inputs.secrets;
  const loaded = {
    ...loadSecrets(Object.entries(files).map(([id, file]) => ({ id, file })), process.env, 'input secret-files'),
    ...loadSecrets(Object.entries(envs).map(([id, env]) => ({ id, env })), process.env, 'input secret-envs'),
  };
  for (const value of Object.values(loaded)) maskSecret(Buffer.from(value).toString('utf8'));
  return { ...Object.fromEntries(Object.entries(values).map(([id, v]) => [id, Buffer.from(v)])), ...loaded };
}

/** The runner masks a registered value in every later log line; a value of several lines line by line. */
function maskSecret(value: string): void {
  for (const part of [value, ...value.split('\n')]) if (part.trim() !== '') core.setSecret(part);
}

async function restoreLayerCache(plan: LayerCachePlan): Promise<string | undefined> {
  try {
    const key = await cache.restoreCache([plan.path], plan.key, plan.restoreKeys);
    core.info(key ? `restored the layer cache ${key}` : `no layer cache yet for ${plan.key}`);
    return key;
  } catch (err) {
    // @actions/cache warns about service trouble itself; anything it throws is not worth a failed build.
    core.warning(`could not restore the layer cache: ${(err as Error).message}`);
    return undefined;
  }
}

/** The commit's time from git in the workspace (the event payload does not always carry it). */
function gitCommitDate(workspace: string): CommitDateLookup {
  return async (sha) => {
    const out = await getExecOutput('git', ['log', '-1', '--format=%cI', sha], { cwd: workspace, silent: true, ignoreReturnCode: true }).catch(() => undefined);
    const text = out?.exitCode === 0 ? out.stdout.trim() : '';
    const date = text ? new Date(text) : undefined;
    return date && !Number.isNaN(date.getTime()) ? date : undefined;
  };
}

function exportRuntimeEnv(): void {
  for (const name of RUNTIME_ENV) {
    const value = process.env[name];
    if (!value) continue;
    if (name === 'ACTIONS_RUNTIME_TOKEN') core.setSecret(value);
    core.exportVariable(name, value);
  }
}

/** Fails the step; an error with a Dockerfile line becomes an annotation on that line. */
function fail(err: unknown, context: string, workspace: string): void {
  const message = err instanceof Error ? err.message : String(err);
  const location = err instanceof KilnError ? err.location : undefined;
  if (!location) {
    core.setFailed(message);
    if (!(err instanceof KilnError) && err instanceof Error && err.stack) core.debug(err.stack);
    return;
  }
  // The location names the Dockerfile relative to the context (as docker build does), else the cwd.
  const candidates = isAbsolute(location.file) ? [location.file] : [resolve(context, location.file), resolve(location.file)];
  const file = candidates.find((f) => existsSync(f)) ?? candidates[0]!;
  core.error(message, {
    title: 'Kiln build failed',
    file: relative(workspace, file),
    startLine: location.line,
    ...(location.endLine ? { endLine: location.endLine } : {}),
  });
  process.exitCode = 1;
}
