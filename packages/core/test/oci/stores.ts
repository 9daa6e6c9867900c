// The stores the oci/ tests run against: the fake in this folder and the real one (store room).

import { openStore } from '../../src/store/store.js';
import type { ContentStore } from '../../src/store/types.js';
import { FakeStore } from './fake-store.js';

export const STORE_KINDS: [string, (root: string) => Promise<ContentStore>][] = [
  ['fake store', (root) => FakeStore.create(root)],
  ['real store', (root) => openStore(root)],
];

/** Blob writers still open (neither committed nor aborted), where the store can tell. */
export function openWriters(store: ContentStore): number {
  return store instanceof FakeStore ? store.openWriters : 0;
}
