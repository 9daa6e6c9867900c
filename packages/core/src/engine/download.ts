// ADD <url>: download into the store's scratch area while hashing, verify --checksum, and hand
// the file to COPY's planner as a 0600 file named after the URL's last path segment.
//
// --checksum is read as BuildKit reads it (go-digest's Parse: `algorithm:hex`, sha256, sha384 or
// sha512 with their hex lengths). BuildKit hashes every download with SHA-256 and compares that
// digest with the one given, so a sha384 or sha512 checksum never matches and docker build fails
// with "digest mismatch"; Kiln fails on it before downloading, and says why.

import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { KilnError } from '../errors.js';
import type { ContentStore } from '../store/types.js';
import { treeFromEntries, type FetchedSource } from './copy-plan.js';

const HEX_LENGTHS: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };

/** go-digest's Parse: the checksum's algorithm, or an error BuildKit gives too. */
export function checkChecksum(checksum: string, url: string): void {
  const colon = checksum.indexOf(':');
  const algorithm = checksum.slice(0, colon);
  const hex = checksum.slice(colon + 1);
  const invalid = (why: string) => new KilnError(`invalid --checksum "${checksum}": ${why}; write sha256:<64 hex digits>`);
  if (colon <= 0 || hex === '') throw invalid('invalid checksum digest format');
  const length = HEX_LENGTHS[algorithm];
  if (length === undefined) {
    throw invalid(/^[a-z0-9]+(?:[.+_-][a-z0-9]+)*$/.test(algorithm) ? 'unsupported digest algorithm' : 'invalid checksum digest format');
  }
  if (!/^[a-f0-9]+$/.test(hex)) throw invalid('invalid checksum digest format');
  if (hex.length !== length) throw invalid('invalid checksum digest length');
  if (algorithm !== 'sha256') {
    throw new KilnError(
      `ADD ${url}: --checksum=${algorithm}:... can never match: BuildKit compares the SHA-256 digest of the download with it, so docker build fails with "digest mismatch" (and Kiln does not download); use --checksum=sha256:<the file's SHA-256>`,
    );
  }
}

export async function downloadSource(store: ContentStore, url: string, checksum?: string): Promise<FetchedSource> {
  if (checksum !== undefined) checkChecksum(checksum, url);
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
