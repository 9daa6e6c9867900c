// The `image` executor's options (schema.json describes each one).

export type CacheSpecOption =
  | string
  | { type: 'local'; path?: string; dest?: string; src?: string; ignoreError?: boolean }
  | { type: 'registry'; ref: string; mode?: 'min' | 'max'; ignoreError?: boolean };

export interface ImageExecutorOptions {
  dockerfile?: string;
  context?: string;
  tags?: string[];
  registry?: string;
  push?: boolean;
  buildArgs?: Record<string, string>;
  target?: string;
  labels?: Record<string, string>;
  defaultLabels?: boolean;
  /** os/arch[/variant], or several separated by commas (one image index). */
  platform?: string;
  noCache?: boolean;
  pull?: boolean;
  outputPath?: string;
  store?: string;
  cacheFrom?: CacheSpecOption[];
  cacheTo?: CacheSpecOption[];
  compression?: 'none' | 'gzip';
  /** Layers of a registry base image in the image folder: referenced (default) or included. */
  baseLayers?: 'reference' | 'include';
  insecureRegistries?: string[];
  /** Secrets for RUN --mount=type=secret: `id=ID,src=FILE` / `id=ID,env=VAR`, or the same as an object; never a value. */
  secrets?: SecretOption[];
  /** SSH agents for RUN --mount=type=ssh: `default` ($SSH_AUTH_SOCK) or `ID=SOCKET`. */
  ssh?: string[];
  /** Entitlements (`docker buildx build --allow`): `security.insecure`, `network.host`. */
  allow?: string[];
}

export type SecretOption = string | { id: string; src?: string; env?: string };
