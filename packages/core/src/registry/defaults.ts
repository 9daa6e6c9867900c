import { RegistryClient } from './client.js';
import { getCredentials } from './credentials.js';

/**
 * The registry client every Kiln front end uses (CLI, Nx executors): credentials from Docker's
 * config (`kiln login`, `docker login`, docker/login-action), insecure registries from the caller
 * plus KILN_INSECURE_REGISTRIES (comma-separated host[:port]), and `offline` or KILN_OFFLINE=1
 * limiting it to registries on this machine.
 */
export function createRegistryClient(options: { insecureRegistries?: string[]; offline?: boolean } = {}): RegistryClient {
  const fromEnv = (process.env.KILN_INSECURE_REGISTRIES ?? '').split(',').map((h) => h.trim()).filter(Boolean);
  return new RegistryClient({
    credentials: (host) => getCredentials(host),
    insecureRegistries: [...fromEnv, ...(options.insecureRegistries ?? [])],
    loopbackOnly: options.offline || process.env.KILN_OFFLINE === '1',
  });
}
