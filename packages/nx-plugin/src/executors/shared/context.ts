// What both executors share: the project behind an ExecutorContext, paths resolved from the
// workspace root (never the cwd), the `{...}` templates of tags, build args and labels, and a
// registry client configured like the CLI's.

import { execFileSync } from 'node:child_process';
import { isAbsolute, resolve } from 'node:path';
import type { ExecutorContext, NxJsonConfiguration } from '@nx/devkit';
import { DEFAULT_PUSH_COMPRESSION, createRegistryClient, namesRegistry, parseReference, pushToRegistry, pushedLine, type RegistryClient, type Store } from '@kiln/core';
import { projectVersion } from './release-version.js';

export interface ProjectInfo {
  /** Workspace root (absolute). */
  root: string;
  projectName: string;
  /** The project's folder, relative to the workspace root ('' for a root project). */
  projectRoot: string;
  /** nx.json, for Nx release's tag pattern behind {version}. */
  nxJson?: NxJsonConfiguration;
}

export function projectInfo(context: ExecutorContext): ProjectInfo {
  const projectName = context.projectName;
  if (!projectName) throw new Error('the Kiln executors must run for a project (no projectName in the executor context)');
  const project = context.projectsConfigurations?.projects?.[projectName];
  if (!project) throw new Error(`project "${projectName}" is not in the workspace's project configurations`);
  const projectRoot = project.root === '.' ? '' : project.root.replace(/\/+$/, '');
  return { root: resolve(context.root), projectName, projectRoot, nxJson: context.nxJsonConfiguration };
}

/**
 * The options of another target of the same project (with the running configuration's overrides),
 * as the workspace configures them; empty when the project has no such target.
 */
export function targetOptions(context: ExecutorContext, target: string): Record<string, unknown> {
  const config = context.projectName ? context.projectsConfigurations?.projects?.[context.projectName]?.targets?.[target] : undefined;
  if (!config) return {};
  const configuration = context.configurationName ?? config.defaultConfiguration;
  return { ...(config.options ?? {}), ...(configuration ? (config.configurations?.[configuration] ?? {}) : {}) };
}

/** A tag under `registry` ("host[:port][/namespace]") unless the tag already names a registry. */
export function withRegistry(tag: string, registry: string | undefined): string {
  if (!registry || namesRegistry(tag)) return tag;
  return `${registry.replace(/\/+$/, '')}/${tag}`;
}

/** A path from the options: absolute as is, relative from the workspace root. */
export function fromRoot(info: ProjectInfo, path: string): string {
  return isAbsolute(path) ? path : resolve(info.root, path);
}

/** The default output folder of a project's image. */
export const DEFAULT_OUTPUT_PATH = 'dist/images/{projectName}';

export class TemplateError extends Error {}

/**
 * Values for `{...}` placeholders, computed on first use (git runs only when a template asks).
 * `fixed` pins some of them (image-push renders {hash} as the hash of the image it pushes).
 */
export class TemplateValues {
  private readonly cache: Map<string, string | undefined>;

  constructor(
    private readonly info: ProjectInfo,
    private readonly env: NodeJS.ProcessEnv = process.env,
    fixed: Record<string, string | undefined> = {},
  ) {
    this.cache = new Map(Object.entries(fixed));
  }

  get(name: string): string | undefined {
    if (!this.cache.has(name)) this.cache.set(name, this.compute(name));
    return this.cache.get(name);
  }

  private compute(name: string): string | undefined {
    if (name.startsWith('env.')) return this.env[name.slice(4)];
    switch (name) {
      case 'projectName':
        return this.info.projectName;
      case 'projectRoot':
        return this.info.projectRoot || '.';
      case 'workspaceRoot':
        return this.info.root;
      case 'version':
        return projectVersion(this.info.root, this.info.projectName, this.info.projectRoot, this.info.nxJson);
      case 'sha':
        return git(this.info.root, ['rev-parse', 'HEAD']);
      case 'shortSha':
        return git(this.info.root, ['rev-parse', '--short=7', 'HEAD']);
      case 'branch': {
        const branch = this.env['NX_BRANCH'] || git(this.info.root, ['rev-parse', '--abbrev-ref', 'HEAD']);
        return branch && branch !== 'HEAD' ? branch : undefined;
      }
      case 'hash':
        return this.env['NX_TASK_HASH'] || undefined;
      default:
        return undefined;
    }
  }
}

const KNOWN = new Set(['projectName', 'projectRoot', 'workspaceRoot', 'version', 'sha', 'shortSha', 'branch', 'hash']);

const WHY: Record<string, string> = {
  version: 'the project has no package.json with a "version" and no git tag of Nx release matches it',
  sha: 'the workspace is not a git repository with a commit',
  shortSha: 'the workspace is not a git repository with a commit',
  branch: 'git has no branch checked out (and NX_BRANCH is not set)',
  hash: 'the Nx task hash is not known: Nx gives it to a task it runs alone, not to batched tasks or code outside Nx (run with --batch=false to use {hash})',
};

/**
 * Replaces every `{name}` in `template`. `what` names the option for error messages. In an image
 * reference (`forReference`), values are made tag-safe: `{projectName}` becomes a lowercase
 * repository name and `{branch}` a valid tag (`feature/x` -> `feature-x`).
 */
export function renderTemplate(template: string, values: TemplateValues, what: string, forReference = false): string {
  return template.replace(/\{([A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)?)\}/g, (whole, name: string) => {
    if (!name.startsWith('env.') && !KNOWN.has(name)) {
      throw new TemplateError(`${what} "${template}": unknown placeholder ${whole}; use {projectName}, {projectRoot}, {version}, {sha}, {shortSha}, {branch}, {hash} or {env.NAME}`);
    }
    const value = values.get(name);
    if (value === undefined || value === '') {
      const why = name.startsWith('env.') ? `the environment variable ${name.slice(4)} is not set` : (WHY[name] ?? 'it has no value');
      throw new TemplateError(`${what} "${template}": cannot fill ${whole}: ${why}`);
    }
    if (!forReference) return value;
    if (name === 'projectName') return value.toLowerCase().replace(/^@/, '').replace(/[^a-z0-9._/-]+/g, '-');
    if (name === 'branch') return value.replace(/[^A-Za-z0-9_.-]+/g, '-').slice(0, 128);
    return value;
  });
}

function git(cwd: string, args: string[]): string | undefined {
  try {
    const out = execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 });
    return out.trim() || undefined;
  } catch {
    return undefined;
  }
}

/** A registry client as the CLI makes one, with the executor's insecure registries. */
export function registryClient(insecureRegistries: string[] = []): RegistryClient {
  return createRegistryClient({ insecureRegistries });
}

/** What `image` writes beside the OCI layout, and `image-push` reads. */
export interface ImageMetadata {
  /** What the tags name: the image manifest's digest, or the image index's for several platforms. */
  digest: string;
  /** The config digest (for several platforms, the first platform's; each is in `platforms`). */
  configDigest: string;
  imageId: string;
  /** The rendered tags, as given (the push targets). */
  tags: string[];
  project: string;
  platform?: string;
  /** Each platform's manifest and config, when the image is for several platforms. */
  platforms?: { platform: string; digest: string; configDigest: string }[];
  /** The Nx task hash of the build, when it ran as an Nx task. */
  hash?: string;
  /** Layers of a registry base left out of the layout: digest -> repositories ('domain/path') that hold them. */
  baseLayers?: Record<string, string[]>;
  steps: { stage: string; instruction: string; line: number; cached: boolean; durationMs: number; layer?: string }[];
}

export const METADATA_FILE = 'metadata.json';

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Pushes `digest` from the store to every tag, plain layers gzipped unless `compression` is
 * 'none' (the image target's option: the user asked for plain layers); returns the registry's
 * digest and a line saying what was sent.
 */
export async function pushTags(
  client: RegistryClient,
  store: Store,
  digest: string,
  tags: string[],
  compression: 'none' | 'gzip' | undefined,
  /** Layers not in the store, in a registry: digest -> the repositories that have them. */
  layerSources?: ReadonlyMap<string, string[]>,
): Promise<{ digest: string; summary: string }> {
  const result = await pushToRegistry(store, client, digest, tags.map((t) => parseReference(t)), {
    compression: compression === 'none' ? { type: 'none' } : DEFAULT_PUSH_COMPRESSION,
    ...(layerSources ? { sources: layerSources } : {}),
  });
  return { digest: result.digest, summary: pushedLine(tags, result) };
}
