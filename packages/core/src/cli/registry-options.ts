// The registry flags every registry-speaking verb shares.

import type { RegistryClient } from '../registry/client.js';
import { createRegistryClient } from '../registry/defaults.js';
import { layerFetcher, type LayerFetch } from '../engine/remote-layers.js';
import type { ContentStore } from '../store/types.js';

export const registryOptions = {
  'insecure-registry': { type: 'string', multiple: true },
  offline: { type: 'boolean' },
} as const;

export function registryClient(values: { 'insecure-registry'?: string[]; offline?: boolean }): RegistryClient {
  return createRegistryClient({ insecureRegistries: values['insecure-registry'], offline: values.offline });
}

/**
 * Runs `work` with a LayerFetch over a registry client configured from the environment (the
 * verbs that read an image's bytes, kiln run and kiln save, take no registry flags), closing it after.
 */
export async function fetchMissingLayers(store: ContentStore, work: (fetch: LayerFetch) => Promise<void>): Promise<void> {
  const client = createRegistryClient({});
  try {
    await work(layerFetcher(store, client));
  } finally {
    client.close();
  }
}
