// The registry flags every registry-speaking verb shares.

import type { RegistryClient } from '../registry/client.js';
import { createRegistryClient } from '../registry/defaults.js';

export const registryOptions = {
  'insecure-registry': { type: 'string', multiple: true },
  offline: { type: 'boolean' },
} as const;

export function registryClient(values: { 'insecure-registry'?: string[]; offline?: boolean }): RegistryClient {
  return createRegistryClient({ insecureRegistries: values['insecure-registry'], offline: values.offline });
}
