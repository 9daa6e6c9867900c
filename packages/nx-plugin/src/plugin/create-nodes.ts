// Nx inference: every project with a Dockerfile gets an `image` target (cacheable, builds the image
// with Kiln into an OCI layout under dist/images/{projectName}) and an `image-push` target (never
// cached, pushes what `image` produced). Uses the current createNodes API (v2 signature).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  createNodesFromFiles,
  type CreateNodes,
  type CreateNodesContext,
  type CreateNodesResult,
  type TargetConfiguration,
} from '@nx/devkit';

/** Options of the plugin entry in nx.json: `{ "plugin": "@kiln/nx-plugin", "options": { ... } }`. */
export interface KilnPluginOptions {
  /** Name of the inferred build target. Default `image`. */
  imageTargetName?: string;
  /** Name of the inferred push target. Default `image-push`. */
  pushTargetName?: string;
  /** Target the image target depends on when the project has it. Default `build`. */
  buildTargetName?: string;
  /** Default options of the inferred image target (executor options of `@kiln/nx-plugin:image`). */
  defaults?: Record<string, unknown>;
  /**
   * Default options of the inferred push target (executor options of `@kiln/nx-plugin:image-push`).
   * It reads outputPath, tags, registry, store and insecureRegistries from the image target unless set here.
   */
  pushDefaults?: Record<string, unknown>;
}

export interface NormalizedKilnPluginOptions {
  imageTargetName: string;
  pushTargetName: string;
  buildTargetName: string;
  defaults: Record<string, unknown>;
  pushDefaults: Record<string, unknown>;
}

export const PLUGIN_NAME = '@kiln/nx-plugin';
export const IMAGE_EXECUTOR = `${PLUGIN_NAME}:image`;
export const PUSH_EXECUTOR = `${PLUGIN_NAME}:image-push`;
export const DOCKERFILE_GLOB = '**/Dockerfile';
/** Where the image executor writes the OCI layout and metadata.json unless told otherwise. */
export const DEFAULT_IMAGE_OUTPUT = '{workspaceRoot}/dist/images/{projectName}';

export function normalizeOptions(options: KilnPluginOptions | undefined): NormalizedKilnPluginOptions {
  return {
    imageTargetName: options?.imageTargetName || 'image',
    pushTargetName: options?.pushTargetName || 'image-push',
    buildTargetName: options?.buildTargetName || 'build',
    defaults: { ...(options?.defaults ?? {}) },
    pushDefaults: { ...(options?.pushDefaults ?? {}) },
  };
}

type JsonObject = Record<string, unknown>;

function readJsonObject(path: string): JsonObject | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const value: unknown = JSON.parse(readFileSync(path, 'utf8'));
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as JsonObject) : undefined;
  } catch (err) {
    throw new Error(`${path}: invalid JSON (${(err as Error).message})`);
  }
}

function asObject(value: unknown): JsonObject | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as JsonObject) : undefined;
}

function hasKey(obj: unknown, key: string): boolean {
  const o = asObject(obj);
  return o !== undefined && Object.prototype.hasOwnProperty.call(o, key);
}

/** What the plugin can see of a project from the files next to its Dockerfile. */
export interface ProjectFacts {
  /** Name from project.json, else package.json (`nx.name`, then `name`); undefined when neither has one. */
  name: string | undefined;
  /** Whether project.json targets, package.json scripts or package.json `nx.targets` define the target. */
  hasTarget(target: string): boolean;
  /** Whether project.json or nx.json defines the named input. */
  hasNamedInput(input: string): boolean;
}

/**
 * Reads project.json / package.json in `projectRoot` (relative to the workspace root). Returns
 * undefined when neither exists: a Dockerfile alone does not make a project (same rule as Nx's own
 * inference plugins).
 */
export function readProjectFacts(projectRoot: string, context: CreateNodesContext): ProjectFacts | undefined {
  const abs = join(context.workspaceRoot, projectRoot);
  const projectJson = readJsonObject(join(abs, 'project.json'));
  const packageJson = readJsonObject(join(abs, 'package.json'));
  if (!projectJson && !packageJson) return undefined;
  const pkgNx = asObject(packageJson?.nx);
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);
  const name = str(projectJson?.name) ?? str(pkgNx?.name) ?? str(packageJson?.name);
  const nxJson = context.nxJsonConfiguration ?? {};
  return {
    name,
    hasTarget: (target) =>
      hasKey(projectJson?.targets, target) || hasKey(packageJson?.scripts, target) || hasKey(pkgNx?.targets, target),
    hasNamedInput: (input) =>
      hasKey(nxJson.namedInputs, input) || hasKey(projectJson?.namedInputs, input) || hasKey(pkgNx?.namedInputs, input),
  };
}

/** The image target's inputs: the project's (production) files, the Dockerfile and its ignore files, dependencies. */
export function imageInputs(hasProductionInput: boolean): (string | { env: string })[] {
  const named = hasProductionInput ? 'production' : 'default';
  return [
    named,
    '{projectRoot}/Dockerfile',
    '{projectRoot}/.dockerignore',
    '{projectRoot}/Dockerfile.dockerignore',
    `^${named}`,
  ];
}

/** The image target's outputs: the output folder option when set, else dist/images/{projectName}. */
export function imageOutputs(imageOptions: Record<string, unknown>): string[] {
  const out = imageOptions['outputPath'];
  if (typeof out === 'string' && out.length > 0) {
    const rel = out.replace(/^\.\//, '').replace(/\/+$/, '');
    return [rel.startsWith('{') ? rel : `{workspaceRoot}/${rel}`];
  }
  return [DEFAULT_IMAGE_OUTPUT];
}

/**
 * The push target's options. image-push reads outputPath, tags, store and registry from the
 * image target itself, so only its own defaults and the image target's name go here.
 */
export function pushOptions(opts: NormalizedKilnPluginOptions): Record<string, unknown> {
  return { ...(opts.imageTargetName !== 'image' ? { imageTarget: opts.imageTargetName } : {}), ...opts.pushDefaults };
}

/**
 * `{ env: NAME }` inputs for every `{env.NAME}` the image defaults use: an environment variable
 * that changes a build argument, a label or a tag must change the task hash too.
 */
export function envInputs(options: Record<string, unknown>): { env: string }[] {
  const names = new Set<string>();
  for (const match of JSON.stringify(options).matchAll(/\{env\.([A-Za-z0-9_]+)\}/g)) names.add(match[1]!);
  return [...names].sort().map((env) => ({ env }));
}

export function buildTargets(
  facts: Pick<ProjectFacts, 'hasTarget' | 'hasNamedInput'>,
  opts: NormalizedKilnPluginOptions,
): Record<string, TargetConfiguration> {
  const image: TargetConfiguration = {
    executor: IMAGE_EXECUTOR,
    cache: true,
    inputs: [...imageInputs(facts.hasNamedInput('production')), ...envInputs(opts.defaults)],
    outputs: imageOutputs(opts.defaults),
    options: { ...opts.defaults },
    metadata: {
      technologies: ['docker'],
      description: 'Build the container image from the Dockerfile with Kiln (no Docker daemon)',
    },
  };
  if (facts.hasTarget(opts.buildTargetName)) image.dependsOn = [opts.buildTargetName];
  const push: TargetConfiguration = {
    executor: PUSH_EXECUTOR,
    cache: false,
    dependsOn: [opts.imageTargetName],
    options: pushOptions(opts),
    metadata: {
      technologies: ['docker'],
      description: 'Push the image built by the image target to its registry and tags',
    },
  };
  return { [opts.imageTargetName]: image, [opts.pushTargetName]: push };
}

/** Inference for one Dockerfile (path relative to the workspace root). */
export function createNodesForDockerfile(
  dockerfile: string,
  options: KilnPluginOptions | undefined,
  context: CreateNodesContext,
): CreateNodesResult {
  const projectRoot = dirname(dockerfile).split('\\').join('/');
  if (projectRoot === '.' || projectRoot === '') return {};
  const facts = readProjectFacts(projectRoot, context);
  if (!facts) return {};
  const targets = buildTargets(facts, normalizeOptions(options));
  // Without a name Nx merges these targets into the project another plugin (project.json,
  // package.json) defines at the same root; never invent a project.
  const project = facts.name ? { root: projectRoot, name: facts.name, targets } : { root: projectRoot, targets };
  return { projects: { [projectRoot]: project } };
}

export const createNodes: CreateNodes<KilnPluginOptions> = [
  DOCKERFILE_GLOB,
  async (configFiles, options, context) =>
    createNodesFromFiles(
      (file, opts, ctx) => createNodesForDockerfile(file, opts, ctx),
      configFiles,
      options as KilnPluginOptions,
      context,
    ),
];

/** Same as {@link createNodes}, for Nx versions that read `createNodesV2`. */
export const createNodesV2: CreateNodes<KilnPluginOptions> = createNodes;
