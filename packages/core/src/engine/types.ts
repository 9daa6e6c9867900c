// What a build takes, what it reports while it runs, and what it returns.

import type { ImageConfig } from '../oci/types.js';
import type { RegistryClient } from '../registry/client.js';
import type { CacheRecord, LayerRecord } from '../contracts/index.js';
import type { CacheSpec } from './cache-transfer.js';
import type { Entitlement } from './entitlements.js';

export type { CacheSpec } from './cache-transfer.js';

export type OutputSpec =
  /**
   * `referenceBaseLayers`: layers the build took from a registry base are listed, not written
   * (BuildResult.referencedLayers says where they are), so the layout holds what the build made.
   */
  | { type: 'oci'; dest: string; referenceBaseLayers?: boolean }
  | { type: 'docker'; dest: string };

export interface BuildOptions {
  /** Build context directory. */
  context: string;
  /** Dockerfile path (default `<context>/Dockerfile`), or its bytes (`-f -`). */
  dockerfile?: string;
  dockerfileContent?: Uint8Array;
  /** Image names to tag in the store (`-t`), as given by the user. */
  tags?: string[];
  buildArgs?: Record<string, string>;
  target?: string;
  labels?: Record<string, string>;
  /** Annotations of the image manifest (`--annotation`). */
  annotations?: Record<string, string>;
  noCache?: boolean;
  /**
   * Target platform, `os/arch[/variant]` (default: the host's). Several, separated by commas
   * (`linux/amd64,linux/arm64`), build one image per platform under one image index.
   */
  platform?: string;
  outputs?: OutputSpec[];
  /** Seconds since the epoch used for mtimes and `created` (SOURCE_DATE_EPOCH); default 0. */
  epoch?: number;
  /**
   * How layers are stored: 'none' (default) keeps them as plain tar, which is valid OCI and what
   * docker load reads, and costs no compression time; 'gzip' compresses at build time (level
   * `gzipLevel`, default 6). A push (engine/distribution.ts) gzips plain layers unless told not to.
   */
  compression?: 'none' | 'gzip';
  gzipLevel?: number;
  /** Pulls base images that are not in the store (FROM, COPY --from); none: local images only. */
  registry?: RegistryClient;
  /** Re-resolve registry base images even when the store has them (`--pull`). */
  pull?: boolean;
  /** Build caches imported into the store before the build (`--cache-from`); skipped with noCache. */
  cacheFrom?: CacheSpec[];
  /** Where the records this build used are exported after it (`--cache-to`). */
  cacheTo?: CacheSpec[];
  /**
   * Secrets for `RUN --mount=type=secret`, by id (`--secret`). Their values reach the command
   * only: never a layer, the cache key, the history, a log line (masked) or a file on disk.
   */
  secrets?: Record<string, Uint8Array>;
  /** SSH agent sockets for `RUN --mount=type=ssh`, by id (`--ssh default=$SSH_AUTH_SOCK`). */
  ssh?: Record<string, string>;
  /** What the build may do beyond the sandbox (`--allow security.insecure`). */
  allow?: Entitlement[];
  /** Progress events; the library never prints. */
  onEvent?: (event: BuildEvent) => void;
  /** Aborts the build (Ctrl-C). */
  signal?: AbortSignal;
}

export type BuildEvent =
  | { type: 'stage-start'; stage: string; index: number }
  | { type: 'step-start'; id: number; stage: string; step: number; steps: number; instruction: string; line: number }
  | { type: 'step-done'; id: number; cached: boolean; durationMs: number }
  /** Output of a RUN as it arrives (a chunk, not always whole lines). */
  | { type: 'step-output'; id: number; stream: 'stdout' | 'stderr'; text: string; elapsedMs: number }
  | { type: 'warning'; message: string }
  | { type: 'output'; description: string };

export interface StepReport {
  stage: string;
  instruction: string;
  line: number;
  cached: boolean;
  durationMs: number;
  layer?: string;
}

export interface BuildResult {
  /** What the tags name: the image manifest, or for several platforms the image index. */
  manifestDigest: string;
  /** The image config's digest (for several platforms, the first platform's). */
  configDigest: string;
  /** Docker's image ID: the config digest; for several platforms the index digest, as buildx's --iidfile. */
  imageId: string;
  tags: string[];
  /** The image config and layers (for several platforms, the first platform's; all are in `platforms`). */
  config: ImageConfig;
  layers: LayerRecord[];
  /** Each platform's image, in the order asked for; only when the build was for several platforms. */
  platforms?: PlatformImage[];
  steps: StepReport[];
  /** Every build-cache record this build used or made, by key: what a cache export must hold. */
  cacheRecords: { key: string; record: CacheRecord }[];
  /** With an output that references base layers: each such layer and the repositories ('domain/path') that hold it. */
  referencedLayers?: { digest: string; repositories: string[] }[];
  durationMs: number;
}

/** One platform's image within a multi-platform build. */
export interface PlatformImage {
  /** `os/arch[/variant]`. */
  platform: string;
  manifestDigest: string;
  configDigest: string;
  config: ImageConfig;
  layers: LayerRecord[];
}
