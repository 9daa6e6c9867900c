// Sending one blob from the store to a repository: nothing when the repository has it, a
// cross-repository mount when another repository of the registry has it, else an upload — one
// PUT up to `chunkSize`, PATCH chunks then a PUT above it. A failed attempt starts over with a new
// upload session.

import { createReadStream } from 'node:fs';
import { KilnError } from '../errors.js';
import { digestHex } from '../oci/digest.js';
import type { BlobFiles, BlobReader } from '../contracts/blobs.js';
import { repositoryScope } from './auth.js';
import { RegistryAuthError, RegistryError } from './errors.js';
import { ctxDetails, failure } from './failures.js';
import type { Ctx } from './failures.js';
import type { Fetcher } from './fetch.js';
import type { BlobSightings } from './mount.js';
import { BlobProgress, TransferReport } from './progress.js';
import type { ProgressRequest } from './progress.js';
import { RetryableFailure } from './retry.js';
import { repoName, uploadsUrl } from './session.js';
import type { Registry, RegistrySession } from './session.js';
import { drain, header } from './transport.js';
import type { RawResponse, RequestBody } from './transport.js';
import type { RepoRef } from './types.js';

const DEFAULT_CHUNK = 16 * 1024 * 1024;

export type UploadOutcome = 'uploaded' | 'exists' | 'mounted';

/** One blob on its way to one repository. */
interface BlobPush {
  reg: Registry;
  repo: RepoRef;
  /** repoName(repo), for events. */
  name: string;
  digest: string;
  size: number;
  /** repository:PATH:pull,push of the target. */
  scope: string;
  ctx: Ctx;
}

export class Uploader {
  private readonly chunkSize: number;
  /** Uploads under way, by repository and digest: a second caller waits for the first. */
  private readonly uploads = new Map<string, Promise<UploadOutcome>>();

  constructor(
    private readonly session: RegistrySession,
    private readonly fetcher: Fetcher,
    private readonly seen: BlobSightings,
    chunkSize: number | undefined,
  ) {
    this.chunkSize = Math.max(64 * 1024, Math.floor(chunkSize ?? DEFAULT_CHUNK));
  }

  /**
   * Uploads one blob from the store, or mounts it from one of `mountFrom` (repositories of the
   * same registry) or a repository this client saw it in. With `progress`, its listener is told of
   * this blob (start with what is done to it, bytes as they stream, done).
   */
  async uploadBlob(
    repo: RepoRef,
    store: BlobReader & BlobFiles,
    digest: string,
    options: {
      mountFrom?: string[];
      progress?: ProgressRequest;
      /** The blob's size when the store does not have it (yet). */
      size?: number;
      /** Brings the blob into the store when the repository neither has it nor can mount it. */
      fetchMissing?: () => Promise<void>;
    } = {},
  ): Promise<UploadOutcome> {
    digestHex(digest);
    const key = `${repoName(repo)}\n${digest}`;
    const { progress } = options;
    const running = this.uploads.get(key);
    if (running) {
      if (!progress) return running;
      // Another caller sends it: this one sees it start and end, not its bytes.
      const size = (await store.blobSize(digest)) ?? 0;
      const report = new TransferReport(progress.listener, digest, size, progress.kind, repoName(repo));
      report.start('push');
      const how = await running;
      report.start(how === 'uploaded' ? 'push' : how === 'mounted' ? 'mount' : 'exists');
      report.done(how === 'uploaded' ? size : 0);
      return how;
    }
    const attempt = () =>
      this.session.transfers.run(() => this.pushBlob(repo, store, digest, this.seen.mountCandidates(repo, digest, options.mountFrom ?? []), progress, options));
    const p = (async (): Promise<UploadOutcome> => {
      const first = await attempt();
      if (first !== 'needs-bytes') return first;
      // Fetched outside the transfer slot (the download takes one of its own), then tried again.
      await options.fetchMissing!();
      const second = await attempt();
      if (second === 'needs-bytes') throw new KilnError(`cannot push blob ${digest} to ${repoName(repo)}: it is not in the Kiln store at ${store.root}`);
      return second;
    })().finally(() => this.uploads.delete(key));
    this.uploads.set(key, p);
    return p;
  }

  private async pushBlob(
    repo: RepoRef,
    store: BlobReader & BlobFiles,
    digest: string,
    candidates: string[],
    progress: ProgressRequest | undefined,
    missing: { size?: number; fetchMissing?: () => Promise<void> } = {},
  ): Promise<UploadOutcome | 'needs-bytes'> {
    const stored = await store.blobSize(digest);
    const size = stored ?? missing.size;
    const notStored = () => new KilnError(`cannot push blob ${digest} to ${repoName(repo)}: it is not in the Kiln store at ${store.root}`);
    if (size === undefined || (stored === undefined && !missing.fetchMissing)) throw notStored();
    const reg = await this.session.registry(repo.domain);
    const name = repoName(repo);
    const ctx: Ctx = { action: `pushing blob ${digest} to ${name}`, domain: repo.domain, repository: repo.path, access: 'push' };
    const job: BlobPush = { reg, repo, name, digest, size, scope: repositoryScope(repo.path, 'pull,push'), ctx };
    const report = progress ? new TransferReport(progress.listener, digest, size, progress.kind, name) : undefined;
    return this.session.retries.run(ctx, async () => {
      if (await this.fetcher.blobExists(reg, repo, digest, [job.scope], ctx)) {
        this.session.emit({ type: 'blob-exists', digest, bytes: size, total: size, repository: name });
        report?.start('exists');
        report?.done(0);
        return 'exists';
      }
      const mounted = await this.mount(job, candidates);
      if (mounted === 'mounted') {
        report?.start('mount');
        report?.done(0);
        return 'mounted';
      }
      if (!(await store.hasBlob(digest))) {
        // Neither there nor mountable, and not here: the caller fetches it, then tries again.
        if (mounted) await this.cancelUpload(job, mounted);
        return 'needs-bytes';
      }
      await this.upload(job, mounted ?? (await this.startUpload(job)), store.blobPath(digest), report);
      this.seen.remember(digest, repo);
      return 'uploaded';
    });
  }

  /**
   * Asks for a mount from each candidate in turn. A registry that will not mount answers 202 with
   * an upload session instead: the last one is returned for the upload, earlier ones cancelled.
   * A source refused or unknown (401, 403, 404, a token refused for it) only means: the next one.
   */
  private async mount(job: BlobPush, candidates: string[]): Promise<'mounted' | URL | undefined> {
    const { reg, digest, size, ctx } = job;
    let location: URL | undefined;
    for (let i = 0; i < candidates.length; i++) {
      const from = candidates[i] as string;
      const url = uploadsUrl(reg, job.repo);
      url.searchParams.set('mount', digest);
      url.searchParams.set('from', from);
      let res: RawResponse;
      try {
        res = await this.session.send(reg, { method: 'POST', url, scopes: [job.scope, repositoryScope(from, 'pull')], ctx });
      } catch (e) {
        if (e instanceof RegistryAuthError) continue; // no access to the source: upload instead
        throw e;
      }
      if (res.status === 201) {
        await drain(res);
        this.seen.remember(digest, job.repo);
        this.session.emit({ type: 'blob-mounted', digest, bytes: size, total: size, repository: job.name });
        return 'mounted';
      }
      if (res.status === 202) {
        const loc = uploadLocation(res, ctx);
        await drain(res);
        if (i === candidates.length - 1) location = loc;
        else await this.cancelUpload(job, loc);
        continue;
      }
      if (res.status === 401 || res.status === 403 || res.status === 404) {
        await drain(res);
        continue;
      }
      throw await failure(res, ctx, this.session.auth);
    }
    return location;
  }

  /** Sends the blob's bytes to the upload session at `location` and completes it with the digest. */
  private async upload(job: BlobPush, location: URL, path: string, report: TransferReport | undefined): Promise<void> {
    const { reg, digest, size, scope, ctx } = job;
    const s = this.session;
    const progress = new BlobProgress((e) => s.emit(e), 'blob-upload', digest, size, job.name);
    let sent = 0;
    // A body is opened again when a request is resent (after a 401): count no byte twice past the end.
    const fileBody = (start: number, end: number): RequestBody => {
      if (end <= start) return Buffer.alloc(0);
      return {
        length: end - start,
        open: () => {
          const stream = createReadStream(path, { start, end: end - 1, highWaterMark: 1024 * 1024 });
          stream.on('data', (c) => {
            sent = Math.min(size, sent + (c as Buffer).length);
            progress.at(sent);
            report?.at(sent);
          });
          return stream;
        },
      };
    };
    progress.start();
    report?.start('push');
    let res: RawResponse;
    if (size > this.chunkSize) {
      let offset = 0;
      while (offset < size) {
        const end = Math.min(size, offset + this.chunkSize);
        const chunk = await s.send(reg, {
          method: 'PATCH',
          url: location,
          headers: { 'content-type': 'application/octet-stream', 'content-range': `${offset}-${end - 1}` },
          body: fileBody(offset, end),
          scopes: [scope],
          ctx,
        });
        if (chunk.status !== 202 && chunk.status !== 204) {
          if (chunk.status === 416) {
            await drain(chunk);
            throw uploadOutOfStep(ctx, 'the registry refused the chunk range (HTTP 416)');
          }
          throw await failure(chunk, ctx, s.auth);
        }
        const range = /(\d+)\s*-\s*(\d+)/.exec(header(chunk, 'range') ?? '');
        location = uploadLocation(chunk, ctx);
        await drain(chunk);
        if (range && Number(range[2]) !== end - 1) {
          throw uploadOutOfStep(ctx, `the registry has bytes ${range[1]}-${range[2]}, ${end - 1} was the last sent`);
        }
        offset = end;
      }
      res = await s.send(reg, { method: 'PUT', url: withDigest(location, digest), scopes: [scope], ctx });
    } else {
      res = await s.send(reg, {
        method: 'PUT',
        url: withDigest(location, digest),
        headers: { 'content-type': 'application/octet-stream' },
        body: fileBody(0, size),
        scopes: [scope],
        ctx,
      });
    }
    await this.finishUpload(res, ctx, digest);
    progress.done(size);
    report?.done(size);
  }

  private async startUpload(job: BlobPush): Promise<URL> {
    const res = await this.session.send(job.reg, { method: 'POST', url: uploadsUrl(job.reg, job.repo), scopes: [job.scope], ctx: job.ctx });
    if (res.status !== 202) throw await failure(res, job.ctx, this.session.auth);
    const loc = uploadLocation(res, job.ctx);
    await drain(res);
    return loc;
  }

  private async finishUpload(res: RawResponse, ctx: Ctx, digest: string): Promise<void> {
    if (res.status !== 201 && res.status !== 204 && res.status !== 200) throw await failure(res, ctx, this.session.auth);
    await drain(res);
    const claimed = header(res, 'docker-content-digest');
    if (claimed && claimed !== digest) {
      throw new RegistryError(`${ctx.action} failed: the registry stored the blob as ${claimed}`, ctxDetails(ctx));
    }
  }

  private async cancelUpload(job: BlobPush, location: URL): Promise<void> {
    try {
      const res = await this.session.send(job.reg, { method: 'DELETE', url: location, scopes: [job.scope], ctx: job.ctx });
      await drain(res);
    } catch {
      // an abandoned upload session expires on its own
    }
  }
}

/** The registry and this client disagree on what was received: start over with a new session. */
function uploadOutOfStep(ctx: Ctx, why: string): RetryableFailure {
  return new RetryableFailure('upload out of step', (attempts) =>
    new RegistryError(`${ctx.action} failed: ${why}, in ${attempts} attempt(s)`, ctxDetails(ctx)),
  );
}

/** Where the upload goes on: each answer of a session names the URL of its next request. */
function uploadLocation(res: RawResponse, ctx: Ctx): URL {
  const loc = header(res, 'location');
  if (!loc) {
    throw new RegistryError(`${ctx.action} failed: the registry answered HTTP ${res.status} without a Location for the upload`, ctxDetails(ctx));
  }
  return new URL(loc, res.url);
}

/** The upload URL with `digest=` added to its query (the rest kept as the registry wrote it). */
function withDigest(location: URL, digest: string): URL {
  const u = new URL(location.href);
  u.hash = '';
  const q = u.search.replace(/^\?/, '');
  u.search = `${q}${q ? '&' : ''}digest=${encodeURIComponent(digest)}`;
  return u;
}
