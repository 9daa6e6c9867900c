// `nx g @kiln/nx-plugin:configuration <project>`: writes explicit image and image-push targets into
// the project's configuration (project.json, else the `nx` field of its package.json) and a starter
// Dockerfile (+ .dockerignore) when the project has none. Explicit targets override inference.
import {
  formatFiles,
  joinPathFragments,
  readJson,
  readNxJson,
  readProjectConfiguration,
  writeJson,
  type GeneratorCallback,
  type TargetConfiguration,
  type Tree,
} from '@nx/devkit';
import { buildTargets, normalizeOptions, PLUGIN_NAME, type KilnPluginOptions } from '../../plugin/create-nodes.js';
import { dockerfileFor, dockerignoreFor, type DockerfileTemplate } from './templates.js';

export interface ConfigurationGeneratorSchema {
  project: string;
  template?: DockerfileTemplate;
  imageTargetName?: string;
  pushTargetName?: string;
  skipFormat?: boolean;
}

type JsonObject = Record<string, unknown>;

function asObject(value: unknown): JsonObject | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as JsonObject) : undefined;
}

export async function configurationGenerator(
  tree: Tree,
  schema: ConfigurationGeneratorSchema,
): Promise<GeneratorCallback> {
  const template: DockerfileTemplate = schema.template ?? 'node';
  if (template !== 'node' && template !== 'static') {
    throw new Error(`Unknown Dockerfile template '${String(template)}': use node or static.`);
  }
  const project = readProjectConfiguration(tree, schema.project);
  const root = project.root;
  if (!root || root === '.') {
    throw new Error(`Project '${schema.project}' is the workspace root; give it its own folder before adding image targets.`);
  }
  const projectJsonPath = joinPathFragments(root, 'project.json');
  const packageJsonPath = joinPathFragments(root, 'package.json');
  const projectJson = tree.exists(projectJsonPath) ? asObject(readJson(tree, projectJsonPath)) : undefined;
  const packageJson = tree.exists(packageJsonPath) ? asObject(readJson(tree, packageJsonPath)) : undefined;
  const pkgNx = asObject(packageJson?.nx);

  const nxJson = readNxJson(tree) ?? {};
  // Target names default to the ones the nx.json plugin entry uses, so explicit and inferred agree.
  const pluginEntry = (nxJson.plugins ?? []).find(
    (p): p is { plugin: string; options?: unknown } => typeof p === 'object' && p !== null && p.plugin === PLUGIN_NAME,
  );
  const pluginOptions = (asObject(pluginEntry?.options) ?? {}) as KilnPluginOptions;
  const opts = normalizeOptions({
    imageTargetName: schema.imageTargetName ?? pluginOptions.imageTargetName,
    pushTargetName: schema.pushTargetName ?? pluginOptions.pushTargetName,
    buildTargetName: pluginOptions.buildTargetName,
  });
  const existing = { ...asObject(pkgNx?.targets), ...asObject(projectJson?.targets) };
  for (const name of [opts.imageTargetName, opts.pushTargetName]) {
    if (Object.prototype.hasOwnProperty.call(existing, name)) {
      throw new Error(`Project '${schema.project}' already has a '${name}' target (${projectJson ? projectJsonPath : packageJsonPath}); remove it or pick another name with --imageTargetName/--pushTargetName.`);
    }
  }

  const hasKey = (o: unknown, k: string) => Object.prototype.hasOwnProperty.call(asObject(o) ?? {}, k);
  const targets = buildTargets(
    {
      hasTarget: (t) =>
        hasKey(project.targets, t) || hasKey(existing, t) || hasKey(packageJson?.scripts, t),
      hasNamedInput: (i) =>
        hasKey(nxJson.namedInputs, i) || hasKey(project.namedInputs, i) || hasKey(projectJson?.namedInputs, i),
    },
    opts,
  );
  // Explicit targets keep only what a user edits; metadata is for inferred targets.
  const explicit: Record<string, TargetConfiguration> = {};
  for (const [name, t] of Object.entries(targets)) {
    const { metadata: _metadata, ...rest } = t;
    explicit[name] = rest;
  }

  if (projectJson) {
    writeJson(tree, projectJsonPath, { ...projectJson, targets: { ...asObject(projectJson.targets), ...explicit } });
  } else if (packageJson) {
    writeJson(tree, packageJsonPath, {
      ...packageJson,
      nx: { ...pkgNx, targets: { ...asObject(pkgNx?.targets), ...explicit } },
    });
  } else {
    throw new Error(`Project '${schema.project}' has neither project.json nor package.json at ${root}.`);
  }

  const dockerfilePath = joinPathFragments(root, 'Dockerfile');
  if (!tree.exists(dockerfilePath)) {
    const main = typeof packageJson?.main === 'string' && packageJson.main ? packageJson.main : 'dist/main.js';
    tree.write(
      dockerfilePath,
      dockerfileFor(template, { projectName: schema.project, projectRoot: root, hasPackageJson: !!packageJson, main }),
    );
    const ignorePath = joinPathFragments(root, '.dockerignore');
    if (!tree.exists(ignorePath)) tree.write(ignorePath, dockerignoreFor(template));
  }

  if (!schema.skipFormat) await formatFiles(tree);
  return () => {};
}

export default configurationGenerator;
