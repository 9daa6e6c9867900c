// The registry room: an OCI Distribution client (pull, push, blobs, manifests) with Docker's auth.
export { MANIFEST_ACCEPT, RegistryClient, registryApiHost } from './client.js';
export { BlobVerificationError, ManifestNotFoundError, RegistryAuthError, RegistryError } from './errors.js';
export type { RegistryErrorDetails, RegistryErrorEntry } from './errors.js';
export { parseWwwAuthenticate, repositoryScope } from './auth.js';
export type { Challenge } from './auth.js';
export { isLoopbackHost, parseRetryAfter } from './transport.js';
export type {
  BlobEvent,
  CredentialLookup,
  Credentials,
  PushResult,
  RegistryClientOptions,
  RegistryEvent,
  RepoRef,
  RetryEvent,
} from './types.js';
export { credentialKey, dockerConfigDir, getCredentials, removeCredentials, storeCredentials, DOCKER_HUB_KEY } from './credentials.js';
export { createRegistryClient, type RegistryLogin } from './defaults.js';
