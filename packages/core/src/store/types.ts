// The whole store as the engine and the CLI use it: every small interface of the contract
// (contracts/), which the other rooms use one by one, plus what only the store's owner needs.
// store.ts implements it on a directory.

import type { Blobs } from '../contracts/blobs.js';
import type { CacheIndex } from '../contracts/cache-index.js';
import type { Locks } from '../contracts/locks.js';
import type { Containers } from '../contracts/containers.js';
import type { Maintenance } from '../contracts/maintenance.js';
import type { MetaFiles } from '../contracts/meta.js';
import type { Images, Refs } from '../contracts/refs.js';
import type { SandboxSpace } from '../contracts/sandbox-space.js';
import type { ScratchSpace } from '../contracts/scratch.js';

export interface VerifyReport {
  checked: number;
  /** Digests whose bytes no longer hash to their name (moved aside, never served). */
  corrupt: string[];
}

export interface ContentStore extends Blobs, Refs, Images, Containers, CacheIndex, MetaFiles, Maintenance, ScratchSpace, SandboxSpace, Locks {
  /** Re-hash every blob. */
  verify(): Promise<VerifyReport>;
}
