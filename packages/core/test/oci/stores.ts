// The stores the oci/ tests run against: the fake in this folder and the real one (store room).

import type { Blobs } from '../../src/contracts/blobs.js';
import type { Locks } from '../../src/contracts/locks.js';
import { openStore } from '../../src/store/store.js';
import { FakeStore } from './fake-store.js';

/** What the oci/ room uses of a store: its blobs and its locks. */
export type OciStore = Blobs & Locks;

export const STORE_KINDS: [string, (root: string) => Promise<OciStore>][] = [
  ['fake store', (root) => FakeStore.create(root)],
  ['real store', (root) => openStore(root)],
];

/** Blob writers still open (neither committed nor aborted), where the store can tell. */
export function openWriters(store: OciStore): number {
  return store instanceof FakeStore ? store.openWriters : 0;
}
