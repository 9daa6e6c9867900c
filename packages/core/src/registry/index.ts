// The registry room: an OCI Distribution client (pull, push, blobs, manifests) with Docker's auth.
export { RegistryClient } from './client.js';
export { MANIFEST_ACCEPT } from './fetch.js';
export { BlobVerificationError, ManifestNotFoundError, RegistryAuthError, RegistryError } from './errors.js';
export type { RegistryErrorDetails, RegistryErrorEntry } from './errors.js';
export { parseWwwAuthenticate, repositoryScope } from './auth.js';
export type { Challenge } from './auth.js';
export { isLoopbackHost, parseRetryAfter, registryApiHost } from './transport.js';
export type {
  BlobEvent,
  CredentialLookup,
  Credentials,
  PushResult,
  RegistryClientOptions,
  RegistryEvent,
  RepoRef,
  RetryEvent,
  TransferAction,
  TransferEvent,
  TransferKind,
  TransferListener,
} from './types.js';
export { credentialKey, dockerConfigDir, getCredentials, removeCredentials, storeCredentials, DOCKER_HUB_KEY } from './credentials.js';
export { createRegistryClient, type RegistryLogin } from './defaults.js';
