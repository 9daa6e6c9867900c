// Test helpers for the layer room: a temp-dir blob store (just what the layer code uses) and a
// raw tar builder for hand-made (also malicious) archives.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { Header, Pax } from 'tar';
import type { HeaderData } from 'tar';
import type { BlobInfo, BlobWriter, BlobWriterFactory } from '../../src/contracts/blobs.js';

export async function tempDir(prefix = 'kiln-layer-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export async function removeDir(dir: string): Promise<void> {
  try {
    await rm(dir, { recursive: true, force: true });
  } catch {
    // Read-only directories extracted by a non-root run: make them writable, then retry.
    execFileSync('chmod', ['-R', 'u+rwX', dir]);
    await rm(dir, { recursive: true, force: true });
  }
}

/** A blob store on a temp directory: the writer factory the layer writer uses, and blobPath/openBlob/hasBlob for the tests. */
export class TempStore implements BlobWriterFactory {
  private n = 0;
  constructor(readonly root: string) {}

  static async create(): Promise<TempStore> {
    const root = await tempDir('kiln-store-');
    await mkdir(join(root, 'blobs'), { recursive: true });
    await mkdir(join(root, 'tmp'), { recursive: true });
    return new TempStore(root);
  }

  blobPath(digest: string): string {
    return join(this.root, 'blobs', digest.replace('sha256:', ''));
  }

  async hasBlob(digest: string): Promise<boolean> {
    return stat(this.blobPath(digest)).then(
      () => true,
      () => false,
    );
  }

  openBlob(digest: string): Readable {
    return createReadStream(this.blobPath(digest));
  }

  async createBlobWriter(): Promise<BlobWriter> {
    const tmp = join(this.root, 'tmp', `w${++this.n}-${process.pid}`);
    const stream = createWriteStream(tmp);
    const hash = createHash('sha256');
    let size = 0;
    const blobPath = (d: string) => this.blobPath(d);
    return {
      stream,
      write(chunk: Uint8Array): Promise<void> {
        hash.update(chunk);
        size += chunk.length;
        return new Promise((res, rej) => stream.write(chunk, (err) => (err ? rej(err) : res())));
      },
      async commit(expectedDigest?: string): Promise<BlobInfo> {
        stream.end();
        await finished(stream);
        const digest = `sha256:${hash.digest('hex')}`;
        if (expectedDigest && expectedDigest !== digest) {
          await rm(tmp, { force: true });
          throw new Error(`digest mismatch: expected ${expectedDigest}, got ${digest}`);
        }
        await rename(tmp, blobPath(digest));
        return { digest, size };
      },
      async abort(): Promise<void> {
        stream.destroy();
        await rm(tmp, { force: true });
      },
    };
  }
}

export interface RawEntry {
  path: string;
  type?: HeaderData['type'];
  linkpath?: string;
  data?: string | Buffer;
  mode?: number;
  uid?: number;
  gid?: number;
  /** Write a pax header with this path (the ustar field gets `path`). */
  paxPath?: string;
}

/** A tar built block by block with node-tar's Header: nothing is checked or normalized. */
export function rawTar(entries: RawEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const data = typeof e.data === 'string' ? Buffer.from(e.data) : (e.data ?? Buffer.alloc(0));
    if (e.paxPath) {
      const body = Buffer.from(new Pax({ path: e.paxPath }).encodeBody());
      const h = Buffer.alloc(512);
      new Header({ path: 'PaxHeader/x', type: 'ExtendedHeader', size: body.length, mode: 0o644, uid: 0, gid: 0, mtime: new Date(0) }).encode(h, 0);
      blocks.push(h, pad(body));
    }
    const h = Buffer.alloc(512);
    new Header({
      path: e.path,
      type: e.type ?? 'File',
      linkpath: e.linkpath ?? '',
      size: (e.type ?? 'File') === 'File' ? data.length : 0,
      mode: e.mode ?? 0o644,
      uid: e.uid ?? 0,
      gid: e.gid ?? 0,
      mtime: new Date(1_000_000_000 * 1000),
      uname: '',
      gname: '',
    }).encode(h, 0);
    blocks.push(h);
    if ((e.type ?? 'File') === 'File' && data.length) blocks.push(pad(data));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

function pad(b: Buffer): Buffer {
  const out = Buffer.alloc(Math.ceil(b.length / 512) * 512);
  b.copy(out);
  return out;
}

export function sha256(data: Uint8Array): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** Deterministic pseudo-random bytes (xorshift), so tests do not depend on crypto randomness. */
export function pseudoRandom(size: number, seed = 1): Buffer {
  const out = Buffer.allocUnsafe(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}
