// A small store on a temp directory with just what the oci/ room uses (blobs and locks): blobs
// are real files (so blobPath, hardlinks and streaming work as with the real store). Blob writers
// stream to a temp file, hash as they go and rename on commit; locks are not shared across processes.

import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import type { WriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import type { Readable } from 'node:stream';
import type { BlobInfo, BlobWriter, Blobs } from '../../src/contracts/blobs.js';
import type { Locks } from '../../src/contracts/locks.js';

const DIGEST = /^sha256:[a-f0-9]{64}$/;

function hex(digest: string): string {
  if (!DIGEST.test(digest)) throw new Error(`not a sha256 digest: ${digest}`);
  return digest.slice(7);
}

export class FakeStore implements Blobs, Locks {
  /** Writers created and not yet committed or aborted (tests check nothing leaks). */
  openWriters = 0;

  private constructor(readonly root: string) {}

  static async create(root?: string): Promise<FakeStore> {
    const dir = root ?? (await mkdtemp(join(tmpdir(), 'kiln-fake-store-')));
    await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
    await mkdir(join(dir, 'tmp'), { recursive: true });
    return new FakeStore(dir);
  }

  async dispose(): Promise<void> {
    await rm(this.root, { recursive: true, force: true });
  }

  blobPath(digest: string): string {
    return join(this.root, 'blobs', 'sha256', hex(digest));
  }

  async hasBlob(digest: string): Promise<boolean> {
    try {
      return (await stat(this.blobPath(digest))).isFile();
    } catch {
      return false;
    }
  }

  async blobSize(digest: string): Promise<number | undefined> {
    try {
      return (await stat(this.blobPath(digest))).size;
    } catch {
      return undefined;
    }
  }

  async writeBlob(data: Uint8Array, expectedDigest?: string): Promise<BlobInfo> {
    const w = await this.createBlobWriter();
    await w.write(data);
    return w.commit(expectedDigest);
  }

  async createBlobWriter(): Promise<BlobWriter> {
    const tmp = join(this.root, 'tmp', `blob-${randomBytes(8).toString('hex')}`);
    const stream: WriteStream = createWriteStream(tmp);
    const hash = createHash('sha256');
    let size = 0;
    let done = false;
    this.openWriters++;
    const tap = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        hash.update(chunk);
        size += chunk.length;
        // A copy: write() resolves here, and the caller may then reuse the chunk's memory.
        cb(null, Buffer.from(chunk));
      },
    });
    tap.pipe(stream);
    const finished = new Promise<void>((resolve, reject) => {
      stream.on('finish', resolve);
      stream.on('error', reject);
      tap.on('error', reject);
    });
    finished.catch(() => undefined);
    const finish = (): void => {
      if (done) throw new Error('blob writer already committed or aborted');
      done = true;
      this.openWriters--;
    };
    return {
      stream: tap,
      write: (chunk: Uint8Array) =>
        new Promise<void>((resolve, reject) => {
          tap.write(chunk, (err) => (err ? reject(err) : resolve()));
        }),
      commit: async (expectedDigest?: string) => {
        finish();
        tap.end();
        await finished;
        const digest = `sha256:${hash.digest('hex')}`;
        if (expectedDigest !== undefined && expectedDigest !== digest) {
          await rm(tmp, { force: true });
          throw new Error(`digest mismatch: expected ${expectedDigest}, got ${digest}`);
        }
        await rename(tmp, this.blobPath(digest));
        return { digest, size };
      },
      abort: async () => {
        finish();
        tap.end();
        await finished.catch(() => undefined);
        await rm(tmp, { force: true });
      },
    };
  }

  async readBlob(digest: string): Promise<Buffer> {
    const data = await readFile(this.blobPath(digest));
    const got = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    if (got !== digest) throw new Error(`store corruption: ${digest} hashes to ${got}`);
    return data;
  }

  openBlob(digest: string): Readable {
    const hash = createHash('sha256');
    const check = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        hash.update(chunk);
        cb(null, chunk);
      },
      flush(cb) {
        const got = `sha256:${hash.digest('hex')}`;
        cb(got === digest ? null : new Error(`store corruption: ${digest} hashes to ${got}`));
      },
    });
    const src = createReadStream(this.blobPath(digest));
    src.on('error', (e) => check.destroy(e));
    return src.pipe(check);
  }

  async writeJson(doc: unknown): Promise<BlobInfo & { bytes: Buffer }> {
    const bytes = Buffer.from(JSON.stringify(doc));
    return { ...(await this.writeBlob(bytes)), bytes };
  }

  async readJson<T>(digest: string): Promise<T> {
    return JSON.parse((await this.readBlob(digest)).toString('utf8')) as T;
  }

  async withLock<T>(_name: string, fn: () => Promise<T>): Promise<T> {
    return fn();
  }

  /** Test helper: the raw bytes of a blob file. */
  async rawBlob(digest: string): Promise<Buffer> {
    return readFile(this.blobPath(digest));
  }

  /** Test helper: overwrite a blob's bytes (to simulate corruption). */
  async corrupt(digest: string, data: Uint8Array): Promise<void> {
    await writeFile(this.blobPath(digest), data);
  }
}
