// The `image` executor: builds a project's image with Kiln's engine into an OCI image layout and
// a metadata.json at outputPath (default dist/images/{projectName}). Nx caches that folder, so a
// cache hit restores the image itself, and `image-push` can push it from there.

import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExecutorContext } from '@nx/devkit';
import {
  build,
  loadSecrets,
  openStore,
  parseCacheSpec,
  parseReference,
  parseSecretSpec,
  parseEntitlements,
  parseSshSpecs,
  progressReporter,
  resultLines,
  sourceDateEpoch,
  type CacheSpec,
  type SecretSource,
} from '@kiln/core';
import {
  DEFAULT_OUTPUT_PATH,
  METADATA_FILE,
  TemplateValues,
  errorMessage,
  fromRoot,
  projectInfo,
  pushTags,
  registryClient,
  renderTemplate,
  withRegistry,
  type ImageMetadata,
  type ProjectInfo,
} from '../shared/context.js';
import { log, type TaskLog } from '../shared/log.js';
import type { CacheSpecOption, ImageExecutorOptions, SecretOption } from './schema.js';

export type { ImageExecutorOptions } from './schema.js';

export interface ImageTaskResult {
  success: boolean;
  digest?: string;
  outputPath?: string;
}

/** One image task, as one Nx task runs it (executor) or as one task of a batch. */
export default async function imageExecutor(options: ImageExecutorOptions, context: ExecutorContext): Promise<ImageTaskResult> {
  return buildImage(options, context, log, process.env['NX_TASK_HASH']);
}

/** Builds the project's image into its output folder; every line goes to `out`. */
export async function buildImage(
  options: ImageExecutorOptions,
  context: ExecutorContext,
  out: TaskLog,
  taskHash: string | undefined,
): Promise<ImageTaskResult> {
  try {
    const info = projectInfo(context);
    const values = new TemplateValues(info, process.env, { hash: taskHash });
    const resolved = resolveImageOptions(options, info, values);
    const { outputPath } = resolved;

    const store = await openStore(resolved.store);
    out.info(`Building ${info.projectName} from ${resolved.dockerfile} (context ${resolved.context}) with Kiln, store ${store.root}`);
    // The folder holds exactly this build's image: a stale layout must not be pushed or cached.
    await rm(outputPath, { recursive: true, force: true });
    const registry = registryClient(options.insecureRegistries);
    try {
      const epoch = sourceDateEpoch();
      const result = await build(store, {
        context: resolved.context,
        dockerfile: resolved.dockerfile,
        tags: resolved.tags,
        buildArgs: resolved.buildArgs,
        labels: resolved.labels,
        ...(options.target ? { target: options.target } : {}),
        ...(options.platform ? { platform: options.platform } : {}),
        noCache: options.noCache ?? false,
        pull: options.pull ?? false,
        compression: options.compression ?? 'none',
        // The image folder holds what the build made; layers of a registry base are referenced
        // (metadata.json says where), so an Nx cache entry is the size of the app.
        outputs: [{ type: 'oci', dest: outputPath, referenceBaseLayers: options.baseLayers !== 'include' }],
        registry,
        cacheFrom: resolved.cacheFrom,
        cacheTo: resolved.cacheTo,
        secrets: loadSecrets(resolved.secrets, process.env, 'secrets'),
        ssh: parseSshSpecs(resolved.ssh, process.env, 'ssh'),
        allow: parseEntitlements(options.allow ?? [], 'allow'),
        ...(epoch !== undefined ? { epoch } : {}),
        onEvent: progressReporter(out),
      });
      const metadata: ImageMetadata = {
        digest: result.manifestDigest,
        configDigest: result.configDigest,
        imageId: result.imageId,
        tags: resolved.tags,
        project: info.projectName,
        ...(options.platform ? { platform: options.platform } : {}),
        ...(result.platforms
          ? { platforms: result.platforms.map((p) => ({ platform: p.platform, digest: p.manifestDigest, configDigest: p.configDigest })) }
          : {}),
        ...(taskHash ? { hash: taskHash } : {}),
        ...(result.referencedLayers ? { baseLayers: Object.fromEntries(result.referencedLayers.map((l) => [l.digest, l.repositories])) } : {}),
        steps: result.steps,
      };
      await mkdir(outputPath, { recursive: true });
      await writeFile(join(outputPath, METADATA_FILE), JSON.stringify(metadata, null, 2) + '\n');
      for (const line of resultLines(result)) out.info(line);
      out.info(`OCI layout and ${METADATA_FILE} in ${outputPath}`);
      // With push, the digest is the registry's (layers gzipped at push), as image-push returns it.
      const pushed = options.push ? await pushTags(registry, store, result.manifestDigest, resolved.tags, options.compression) : undefined;
      if (pushed) out.info(pushed.summary);
      return { success: true, digest: pushed?.digest ?? result.manifestDigest, outputPath };
    } finally {
      // Ends what a failed build left downloading (base layers fetched ahead for a RUN).
      registry.cancel();
    }
  } catch (err) {
    out.error(`Kiln: ${errorMessage(err)}`);
    return { success: false };
  }
}

export interface ResolvedImageOptions {
  dockerfile: string;
  context: string;
  tags: string[];
  buildArgs: Record<string, string>;
  labels: Record<string, string>;
  outputPath: string;
  store: string | undefined;
  cacheFrom: CacheSpec[];
  cacheTo: CacheSpec[];
  secrets: SecretSource[];
  ssh: string[];
}

/** Fills templates and defaults and resolves every path from the workspace root. */
export function resolveImageOptions(options: ImageExecutorOptions, info: ProjectInfo, values: TemplateValues): ResolvedImageOptions {
  const projectDir = info.projectRoot || '.';
  const render = (s: string, what: string) => renderTemplate(s, values, what);
  const registry = options.registry ? render(options.registry, 'registry') : undefined;
  const tags = (options.tags?.length ? options.tags : ['{projectName}:latest']).map((t) =>
    withRegistry(renderTemplate(t, values, 'tag', true), registry),
  );
  for (const tag of tags) parseReference(tag); // refuse a bad tag before doing any work
  const buildArgs: Record<string, string> = {};
  for (const [k, v] of Object.entries(options.buildArgs ?? {})) buildArgs[k] = render(String(v), `buildArgs.${k}`);
  const labels: Record<string, string> = {};
  if (options.defaultLabels !== false) {
    labels['org.opencontainers.image.title'] = info.projectName;
    const version = values.get('version');
    if (version) labels['org.opencontainers.image.version'] = version;
    const sha = values.get('sha');
    if (sha) labels['org.opencontainers.image.revision'] = sha;
  }
  for (const [k, v] of Object.entries(options.labels ?? {})) labels[k] = render(String(v), `labels.${k}`);
  const outputPath = fromRoot(info, render(options.outputPath ?? DEFAULT_OUTPUT_PATH, 'outputPath'));
  if (outputPath === info.root || info.root.startsWith(outputPath + '/')) {
    throw new Error(`outputPath "${options.outputPath}" is the workspace root or above it; it is replaced on every build`);
  }
  return {
    dockerfile: fromRoot(info, render(options.dockerfile ?? `${projectDir}/Dockerfile`, 'dockerfile')),
    context: fromRoot(info, render(options.context ?? projectDir, 'context')),
    tags,
    buildArgs,
    labels,
    outputPath,
    store: options.store ? fromRoot(info, render(options.store, 'store')) : undefined,
    cacheFrom: (options.cacheFrom ?? []).map((s) => cacheSpec('cacheFrom', s, info, values)),
    cacheTo: (options.cacheTo ?? []).map((s) => cacheSpec('cacheTo', s, info, values)),
    secrets: (options.secrets ?? []).map((s) => secretSource(s, info, values)),
    ssh: (options.ssh ?? []).map((s) => render(s, 'ssh')),
  };
}

/** A secrets entry: where the value is (a file from the workspace root, or a variable), never the value. */
function secretSource(option: SecretOption, info: ProjectInfo, values: TemplateValues): SecretSource {
  const render = (s: string) => renderTemplate(s, values, 'secrets', true);
  const source: SecretSource =
    typeof option === 'string'
      ? parseSecretSpec(render(option), 'secrets')
      : { id: render(option.id), ...(option.src !== undefined ? { file: render(option.src) } : {}), ...(option.env !== undefined ? { env: render(option.env) } : {}) };
  return source.file === undefined ? source : { ...source, file: fromRoot(info, source.file) };
}

/**
 * A cacheFrom/cacheTo entry: buildx's `type=...,k=v` string or a bare reference (parsed by the
 * core, as `kiln build --cache-from/--cache-to`), or the same fields as an object. Templates are
 * rendered and a local directory resolves from the workspace root.
 */
function cacheSpec(option: 'cacheFrom' | 'cacheTo', spec: CacheSpecOption, info: ProjectInfo, values: TemplateValues): CacheSpec {
  const flag = option === 'cacheTo' ? '--cache-to' : '--cache-from';
  const text =
    typeof spec === 'string'
      ? spec
      : Object.entries(spec)
          .filter(([, v]) => v !== undefined)
          .map(([k, v]) => `${k === 'path' ? (option === 'cacheTo' ? 'dest' : 'src') : k === 'ignoreError' ? 'ignore-error' : k}=${String(v)}`)
          .join(',');
  const parsed = parseCacheSpec(flag, renderTemplate(text, values, option, true));
  return parsed.type === 'local' ? { ...parsed, path: fromRoot(info, parsed.path) } : parsed;
}
