// Containers that `kiln run` kept (docker keeps every container not run with --rm): what ran,
// from which image, how it ended, and the layer of what it changed, for `kiln commit`.

import type { LayerRecord } from './blobs.js';

export interface ContainerRecord {
  /** 64 hex digits, as docker's container IDs. */
  id: string;
  name: string;
  /** The image as the user named it, and the digest it resolved to. */
  image: string;
  imageDigest: string;
  /** The argv that ran (entrypoint and command). */
  command: string[];
  /** Milliseconds since the epoch. */
  created: number;
  finished: number;
  exitCode: number;
  /** What the command changed, as one layer (none when it changed nothing). */
  layer: LayerRecord | null;
  /** The container's own settings, which `kiln commit` gives the image (as docker commit). */
  config: { Entrypoint: string[] | null; Cmd: string[] | null; Env: string[]; WorkingDir: string; User: string };
}

export interface Containers {
  saveContainer(record: ContainerRecord): Promise<void>;
  listContainers(): Promise<ContainerRecord[]>;
  removeContainer(id: string): Promise<boolean>;
}
