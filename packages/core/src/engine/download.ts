// ADD <url>: download into the store's scratch area while hashing, verify --checksum, and hand
// the file to COPY's planner as a 0600 file named after the URL's last path segment.

import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { KilnError } from '../errors.js';
import type { ContentStore } from '../store/types.js';
import { treeFromEntries, type FetchedSource } from './copy-plan.js';

export async function downloadSource(store: ContentStore, url: string, checksum?: string): Promise<FetchedSource> {
  if (checksum !== undefined && !/^sha256:[a-f0-9]{64}$/.test(checksum)) {
    throw new KilnError(`invalid --checksum "${checksum}": expected sha256:<64 hex digits>`);
  }
  let response: Response;
  try {
    response = await fetch(url, { redirect: 'follow' });
  } catch (err) {
    throw new KilnError(`ADD ${url}: download failed: ${(err as Error).cause ?? (err as Error).message}`);
  }
  if (!response.ok || !response.body) {
    throw new KilnError(`ADD ${url}: download failed: HTTP ${response.status} ${response.statusText}`);
  }
  const dir = await store.makeTempDir('download-');
  const name = posix.basename(new URL(url).pathname) || 'download';
  const path = join(dir, name === '/' ? 'download' : name);
  const hash = createHash('sha256');
  const body = Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>);
  body.on('data', (chunk: Buffer) => hash.update(chunk));
  await pipeline(body, createWriteStream(path, { mode: 0o600 }));
  const digest = `sha256:${hash.digest('hex')}`;
  if (checksum !== undefined && checksum !== digest) {
    throw new KilnError(`ADD ${url}: checksum mismatch: expected ${checksum}, downloaded content has ${digest}`);
  }
  const st = await stat(path);
  const entry = {
    path: name, absPath: path, type: 'file' as const, mode: 0o600, size: st.size,
    uid: 0, gid: 0, mtimeMs: st.mtimeMs, ino: st.ino,
  };
  const tree = treeFromEntries('context', `download ${url}`, [entry], { ...entry, path: '', type: 'dir', absPath: dir });
  return { name, entry, tree: { ...tree, digest: async () => digest } };
}
