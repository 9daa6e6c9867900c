export {
  createNodes,
  createNodesV2,
  type KilnPluginOptions,
} from './plugin/create-nodes.js';
export { initGenerator, type InitGeneratorSchema } from './generators/init/init.js';
export { configurationGenerator, type ConfigurationGeneratorSchema } from './generators/configuration/configuration.js';
