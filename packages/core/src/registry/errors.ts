// Errors the registry client reports. Each names the registry, the repository, what failed and
// what to do; none ever holds a password, a token or an Authorization header.

import { KilnError } from '../errors.js';

/** One entry of a registry's `{"errors":[{code,message,detail}]}` body. */
export interface RegistryErrorEntry {
  code: string;
  message: string;
}

export interface RegistryErrorDetails {
  /** Registry as in references ('docker.io', '127.0.0.1:5000'). */
  registry: string;
  repository?: string;
  /** HTTP status, when the failure was an answer. */
  status?: number;
  /** The registry's error codes (MANIFEST_UNKNOWN, DENIED, …), when it sent some. */
  errors?: RegistryErrorEntry[];
}

export class RegistryError extends KilnError {
  readonly registry: string;
  readonly repository: string | undefined;
  readonly status: number | undefined;
  readonly errors: RegistryErrorEntry[];

  constructor(message: string, details: RegistryErrorDetails) {
    super(message);
    this.registry = details.registry;
    this.repository = details.repository;
    this.status = details.status;
    this.errors = details.errors ?? [];
  }
}

/** 401 / 403, or a token server that refused the credentials. */
export class RegistryAuthError extends RegistryError {}

/** The manifest (tag or digest) does not exist in the repository. */
export class ManifestNotFoundError extends RegistryError {}

/** A blob whose bytes never matched its digest (after retries); nothing was stored. */
export class BlobVerificationError extends RegistryError {}
