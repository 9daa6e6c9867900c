// What every registry-speaking verb shares: credentials from Docker's config (kiln login,
// docker login, docker/login-action all write it) and the insecure-registry list.

import { RegistryClient } from '../registry/client.js';
import { getCredentials } from '../registry/credentials.js';

export const registryOptions = {
  'insecure-registry': { type: 'string', multiple: true },
  offline: { type: 'boolean' },
} as const;

/**
 * Flags plus the environment: KILN_INSECURE_REGISTRIES (comma-separated host[:port]) and
 * KILN_OFFLINE=1 (like --offline: only registries on this machine are contacted).
 */
export function registryClient(values: { 'insecure-registry'?: string[]; offline?: boolean }): RegistryClient {
  const fromEnv = (process.env.KILN_INSECURE_REGISTRIES ?? '').split(',').map((h) => h.trim()).filter(Boolean);
  return new RegistryClient({
    credentials: (host) => getCredentials(host),
    insecureRegistries: [...fromEnv, ...(values['insecure-registry'] ?? [])],
    loopbackOnly: values.offline || process.env.KILN_OFFLINE === '1',
  });
}
