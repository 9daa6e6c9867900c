// `nx g @kiln/nx-plugin:init` (also run by `nx add @kiln/nx-plugin`): registers the inference plugin
// in nx.json. Idempotent: an existing entry (string or object form) is left as it is.
import { formatFiles, readNxJson, updateNxJson, type GeneratorCallback, type Tree } from '@nx/devkit';
import { PLUGIN_NAME, type KilnPluginOptions } from '../../plugin/create-nodes.js';

export interface InitGeneratorSchema {
  imageTargetName?: string;
  pushTargetName?: string;
  skipFormat?: boolean;
}

/** Whether nx.json already lists the plugin (as a string or as `{ plugin }`). */
export function hasKilnPlugin(plugins: readonly unknown[] | undefined): boolean {
  return (plugins ?? []).some(
    (p) =>
      p === PLUGIN_NAME ||
      (p !== null && typeof p === 'object' && (p as { plugin?: unknown }).plugin === PLUGIN_NAME),
  );
}

export async function initGenerator(tree: Tree, schema: InitGeneratorSchema = {}): Promise<GeneratorCallback> {
  const nxJson = readNxJson(tree) ?? {};
  if (!hasKilnPlugin(nxJson.plugins)) {
    const options: KilnPluginOptions = {};
    if (schema.imageTargetName && schema.imageTargetName !== 'image') options.imageTargetName = schema.imageTargetName;
    if (schema.pushTargetName && schema.pushTargetName !== 'image-push') options.pushTargetName = schema.pushTargetName;
    nxJson.plugins = [...(nxJson.plugins ?? []), { plugin: PLUGIN_NAME, options }];
    updateNxJson(tree, nxJson);
  }
  if (!schema.skipFormat) await formatFiles(tree);
  return () => {};
}

export default initGenerator;
