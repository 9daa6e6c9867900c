import { RegistryClient } from './client.js';
import { credentialKey, getCredentials } from './credentials.js';
import type { Credentials } from './types.js';

/** Credentials given for one registry (the Action's registry/username/password inputs). */
export interface RegistryLogin {
  /** The registry as written in image references (`ghcr.io`, `localhost:5000`); `docker.io` for Docker Hub. */
  registry: string;
  username: string;
  password: string;
}

/**
 * The registry client every Kiln front end uses (CLI, Nx executors, the Action): credentials from
 * `login` for its registry, else from Docker's config (`kiln login`, `docker login`,
 * docker/login-action); insecure registries from the caller plus KILN_INSECURE_REGISTRIES
 * (comma-separated host[:port]); and `offline` or KILN_OFFLINE=1 limiting it to registries on
 * this machine.
 */
export function createRegistryClient(
  options: { insecureRegistries?: string[]; offline?: boolean; login?: RegistryLogin } = {},
): RegistryClient {
  const fromEnv = (process.env.KILN_INSECURE_REGISTRIES ?? '').split(',').map((h) => h.trim()).filter(Boolean);
  const login = options.login;
  const loginKey = login ? credentialKey(login.registry) : undefined;
  return new RegistryClient({
    credentials: async (host): Promise<Credentials | undefined> =>
      login && credentialKey(host) === loginKey ? { username: login.username, password: login.password } : getCredentials(host),
    insecureRegistries: [...fromEnv, ...(options.insecureRegistries ?? [])],
    loopbackOnly: options.offline || process.env.KILN_OFFLINE === '1',
  });
}
