// The registry client's public types: credentials, options, progress events, repository names.

/**
 * What a registry accepts as proof of identity (the fields of an entry in ~/.docker/config.json,
 * after decoding `auth`). Never printed, never put in an error or an event.
 */
export interface Credentials {
  username?: string;
  password?: string;
  /** An OAuth2 refresh token (Docker's `identitytoken`): exchanged for bearer tokens with a POST to the realm. */
  identityToken?: string;
  /** A bearer token sent as is to the registry (Docker's `registrytoken`). */
  registryToken?: string;
}

/**
 * Finds the credentials for a registry. `registryHost` is the registry as it is written in image
 * references (`docker.io` for Docker Hub, `ghcr.io`, `localhost:5000`), not the API host
 * (`registry-1.docker.io`): the same key `docker login` and credential helpers use (Docker Hub's
 * `https://index.docker.io/v1/` key is the lookup's business). Undefined: anonymous.
 */
export type CredentialLookup = (registryHost: string) => Promise<Credentials | undefined>;

/** A repository of a registry. An `ImageReference` is one. */
export interface RepoRef {
  /** Registry as in references: 'docker.io', 'ghcr.io', '127.0.0.1:5000', '[::1]:5000'. */
  domain: string;
  /** Repository path: 'library/nginx', 'team/app'. */
  path: string;
}

/** Progress of one blob transfer. `bytes` of `total` so far (total = bytes when done). */
export interface BlobEvent {
  type: 'blob-upload' | 'blob-download' | 'blob-exists' | 'blob-mounted';
  digest: string;
  bytes: number;
  total: number;
  /** 'registry/repository' the blob goes to or comes from. */
  repository: string;
}

/** A request or transfer failed in a way worth retrying, and will be retried after `delayMs`. */
export interface RetryEvent {
  type: 'retry';
  /** What is retried, e.g. 'uploading blob sha256:… to 127.0.0.1:5000/app'. */
  what: string;
  /** 1 for the first retry. */
  attempt: number;
  delayMs: number;
  /** Why: 'HTTP 503', 'ECONNRESET', 'digest mismatch'. Never holds a secret. */
  reason: string;
}

export type RegistryEvent = BlobEvent | RetryEvent;

/** What a transferred blob is to the image. */
export type TransferKind = 'layer' | 'config' | 'manifest';

/**
 * What happens to a blob: its bytes move (`pull`, `push`), the registry mounts it from another
 * repository (`mount`), or it is already where it should go (`exists`: in the repository for a
 * push, in the store for a pull).
 */
export type TransferAction = 'pull' | 'push' | 'mount' | 'exists';

/**
 * Per-blob progress of one pull() or push(), for the caller that asked for it (`onProgress`):
 * `start` once the action is known (again, with bytes back to 0, if a failed attempt is retried
 * differently), `bytes` as they stream (at most every 100 ms per blob, and at the end), `done`
 * when the blob is in place. `repository` is 'registry/path'.
 */
export type TransferEvent =
  | { type: 'start'; digest: string; size: number; kind: TransferKind; action: TransferAction; repository: string }
  | { type: 'bytes'; digest: string; bytes: number; size: number; repository: string }
  | { type: 'done'; digest: string; bytes: number; size: number; kind: TransferKind; action: TransferAction; repository: string };

/** A per-call progress listener. Called synchronously; keep it cheap. Its exceptions are ignored. */
export type TransferListener = (e: TransferEvent) => void;

export interface RegistryClientOptions {
  /** Where credentials come from; default none (anonymous). */
  credentials?: CredentialLookup;
  /**
   * Registries (host or host:port, as in references) that may be spoken to without TLS
   * verification: HTTPS is tried first without verifying the certificate, then plain HTTP, as
   * Docker does for `--insecure-registry`. localhost, 127.0.0.0/8 and [::1] may always fall back to
   * plain HTTP when they do not speak TLS (their certificates are still verified when they do).
   */
  insecureRegistries?: string[];
  /**
   * Speak only to registries on this machine (localhost, 127.0.0.0/8, [::1]); any other registry
   * is refused before a name is even looked up (`KILN_OFFLINE=1`, `--offline`).
   */
  loopbackOnly?: boolean;
  /** Blob transfers in parallel (shared by every operation of this client). Default 4. */
  concurrency?: number;
  /** Retries after the first attempt, with exponential backoff and jitter; Retry-After honoured. Default 4. */
  retries?: number;
  /** First backoff delay in milliseconds (doubled per retry, with jitter, at most 10 s). Default 250. */
  retryBaseDelayMs?: number;
  /** Longest Retry-After honoured, in milliseconds (longer ones are clamped). Default 60 000. */
  maxRetryAfterMs?: number;
  /** A connection that stays silent this long (connect, headers or body) fails (and is retried). Default 60 000. */
  timeoutMs?: number;
  /** Progress, mounts, existing blobs and retries. Called synchronously; keep it cheap. */
  onEvent?: (e: RegistryEvent) => void;
  userAgent?: string;
  /**
   * Extra CA certificates (PEM) trusted for every registry, on top of Node's bundled roots and
   * NODE_EXTRA_CA_CERTS.
   */
  caCertificates?: Array<string | Buffer>;
  /**
   * Directories holding per-registry TLS material as Docker's `certs.d` does: `DIR/HOST[:PORT]/*.crt`
   * are CA certificates, `*.cert` + `*.key` a client certificate. Default
   * ['/etc/docker/certs.d', '/etc/containers/certs.d']; [] to use none.
   */
  certsDirs?: string[];
  /** Blobs up to this size are uploaded with one PUT; larger ones in PATCH chunks of this size. Default 16 MiB. */
  chunkSize?: number;
  /** Largest manifest or index accepted, in bytes. Default 4 MiB (as containerd). */
  maxManifestBytes?: number;
}

/** What push() did. `uploadedBytes` counts blob bytes sent (manifests not included). */
export interface PushResult {
  digest: string;
  uploadedBlobs: number;
  uploadedBytes: number;
  mountedBlobs: number;
  existingBlobs: number;
}
