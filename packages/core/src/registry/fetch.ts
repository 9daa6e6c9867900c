// Reading from a registry: manifests by tag or digest (size-capped, verified against the digest
// asked for and the one the registry claims), the digest a tag points to, whether a blob is
// there, and blob downloads streamed into the store and verified before they become visible.

import { createHash } from 'node:crypto';
import { KilnError } from '../errors.js';
import { digestHex } from '../oci/digest.js';
import { MediaTypes } from '../oci/media-types.js';
import type { ImageReference } from '../reference/reference.js';
import type { BlobFiles, BlobReader, BlobWriterFactory } from '../contracts/blobs.js';
import { DigestMismatchError } from '../contracts/errors.js';
import { repositoryScope } from './auth.js';
import { BlobVerificationError, ManifestNotFoundError, RegistryError } from './errors.js';
import type { RegistryErrorEntry } from './errors.js';
import { ERROR_BODY_LIMIT, ctxDetails, errorEntries, failure } from './failures.js';
import type { Ctx } from './failures.js';
import type { BlobSightings } from './mount.js';
import { BlobProgress, TransferReport } from './progress.js';
import type { ProgressRequest } from './progress.js';
import { RetryableFailure } from './retry.js';
import { blobUrl, isRedirect, manifestUrl, repoName } from './session.js';
import type { Registry, RegistrySession } from './session.js';
import { contentType, drain, header, readBody, toTransportError } from './transport.js';
import type { RepoRef } from './types.js';

/** Manifest media types asked for, most wanted first. */
export const MANIFEST_ACCEPT = [
  MediaTypes.ociIndex,
  MediaTypes.ociManifest,
  MediaTypes.dockerManifestList,
  MediaTypes.dockerManifest,
].join(', ');

const DEFAULT_MAX_MANIFEST = 4 * 1024 * 1024;

export interface FetchedManifest {
  digest: string;
  mediaType: string;
  bytes: Buffer;
}

/** The `mediaType` a manifest or index names itself, if it parses and has one. */
export function ownMediaType(bytes: Buffer): string | undefined {
  try {
    const own = (JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown }).mediaType;
    return typeof own === 'string' ? own : undefined;
  } catch {
    return undefined; // normalizeManifest reports bad JSON with a clear message
  }
}

function digestOf(bytes: Buffer, algorithm: string): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}

export class Fetcher {
  private readonly maxManifest: number;
  /** Downloads under way, by store and digest: a second caller waits for the first. */
  private readonly downloads = new Map<string, Promise<void>>();

  constructor(
    private readonly session: RegistrySession,
    private readonly seen: BlobSightings,
    maxManifestBytes: number | undefined,
  ) {
    this.maxManifest = maxManifestBytes ?? DEFAULT_MAX_MANIFEST;
  }

  /** GETs a manifest or index (OCI or Docker) by tag or digest, verified when it is a digest. */
  async getManifest(repo: RepoRef, reference: string): Promise<FetchedManifest> {
    const s = this.session;
    const reg = await s.registry(repo.domain);
    const ctx: Ctx = {
      action: `pulling manifest ${JSON.stringify(reference)} of ${repoName(repo)}`,
      domain: repo.domain,
      repository: repo.path,
      access: 'pull',
    };
    const url = manifestUrl(reg, repo, reference);
    return s.retries.run(ctx, async () => {
      const res = await s.send(reg, {
        method: 'GET',
        url,
        headers: { accept: MANIFEST_ACCEPT },
        scopes: [repositoryScope(repo.path, 'pull')],
        ctx,
      });
      if (res.status === 404) {
        const { bytes } = await readBody(res, ERROR_BODY_LIMIT);
        throw this.notFound(repo, reference, ctx, errorEntries(bytes, s.auth));
      }
      if (res.status !== 200) throw await failure(res, ctx, s.auth);
      const declared = Number(header(res, 'content-length') ?? NaN);
      if (Number.isFinite(declared) && declared > this.maxManifest) {
        res.body.destroy();
        throw this.tooLarge(ctx, declared);
      }
      const { bytes, tooLarge } = await readBody(res, this.maxManifest);
      if (tooLarge) throw this.tooLarge(ctx, undefined);
      const ct = contentType(res);
      if (ct === 'text/html' || /^\s*</.test(bytes.subarray(0, 64).toString('utf8'))) {
        throw new RegistryError(
          `${ctx.action} failed: the server answered with an HTML page instead of a manifest; is ${repo.domain} a container registry (or is a proxy or login page in the way)?`,
          { registry: repo.domain, repository: repo.path, status: res.status },
        );
      }
      const algo = reference.includes(':') ? reference.slice(0, reference.indexOf(':')) : 'sha256';
      const digest = digestOf(bytes, ['sha256', 'sha384', 'sha512'].includes(algo) ? algo : 'sha256');
      // Wrong bytes may come from a cache on the way: worth another attempt.
      if (reference.includes(':') && digest !== reference) {
        throw new RetryableFailure('digest mismatch', (attempts) =>
          new BlobVerificationError(
            `${ctx.action} failed: the manifest received hashes to ${digest}, not the digest asked for, in ${attempts} attempt(s); ` +
              'the registry or something between (a proxy or cache) serves wrong content',
            { registry: repo.domain, repository: repo.path },
          ),
        );
      }
      const claimed = header(res, 'docker-content-digest');
      if (claimed && claimed.startsWith('sha256:') && digest.startsWith('sha256:') && claimed !== digest) {
        throw new RetryableFailure('digest mismatch', (attempts) =>
          new BlobVerificationError(
            `${ctx.action} failed: the registry says the manifest is ${claimed} but the bytes received hash to ${digest} ` +
              `(${attempts} attempt(s)); the registry or a proxy in between serves wrong content`,
            { registry: repo.domain, repository: repo.path },
          ),
        );
      }
      // Generic content types say nothing: the document's own mediaType does.
      let mediaType = ct !== undefined && ct !== 'application/json' && ct !== 'application/octet-stream' && ct !== 'text/plain' ? ct : undefined;
      mediaType ??= ownMediaType(bytes);
      return { digest, mediaType: mediaType ?? ct ?? 'application/json', bytes };
    });
  }

  /**
   * The digest a tag points to, from a HEAD (Docker-Content-Digest), or a GET when the registry
   * does not send it. A reference with a digest is returned as it is.
   */
  async resolveDigest(ref: ImageReference): Promise<string> {
    if (ref.digest) return ref.digest;
    const s = this.session;
    const reference = ref.tag ?? 'latest';
    const reg = await s.registry(ref.domain);
    const ctx: Ctx = {
      action: `resolving ${repoName(ref)}:${reference}`,
      domain: ref.domain,
      repository: ref.path,
      access: 'pull',
    };
    const res = await s.call(reg, {
      method: 'HEAD',
      url: manifestUrl(reg, ref, reference),
      headers: { accept: MANIFEST_ACCEPT },
      scopes: [repositoryScope(ref.path, 'pull')],
      ctx,
    });
    await drain(res);
    if (res.status === 200) {
      const d = header(res, 'docker-content-digest');
      if (d && /^sha(256|384|512):[a-f0-9]+$/.test(d)) return d;
      return (await this.getManifest(ref, reference)).digest;
    }
    if (res.status === 404) throw this.notFound(ref, reference, ctx, []);
    throw await failure(res, ctx, s.auth);
  }

  /** Whether the repository has the blob (HEAD). */
  async hasBlob(repo: RepoRef, digest: string): Promise<boolean> {
    digestHex(digest);
    const reg = await this.session.registry(repo.domain);
    const ctx: Ctx = { action: `checking blob ${digest} in ${repoName(repo)}`, domain: repo.domain, repository: repo.path, access: 'pull' };
    return this.session.retries.run(ctx, () => this.blobExists(reg, repo, digest, [repositoryScope(repo.path, 'pull')], ctx));
  }

  /** One HEAD of a blob, without retries (the caller's operation retries as a whole); `scopes` as the caller needs them. */
  async blobExists(reg: Registry, repo: RepoRef, digest: string, scopes: string[], ctx: Ctx): Promise<boolean> {
    // A redirect means the registry has it (and sends it from storage): not followed, since a
    // storage URL signed for GET may refuse HEAD.
    const res = await this.session.send(reg, { method: 'HEAD', url: blobUrl(reg, repo, digest), scopes, ctx });
    await drain(res);
    if (res.status === 200 || isRedirect(res.status)) {
      this.seen.remember(digest, repo);
      return true;
    }
    if (res.status === 404) return false;
    throw await failure(res, ctx, this.session.auth);
  }

  /**
   * Downloads a blob into the store, streaming, verified against its digest (and `size` when
   * given) before it becomes visible. A corrupt or cut download is retried; nothing unverified is
   * ever stored. A blob the store has is not downloaded. With `progress`, its listener is told
   * of this blob (start, bytes as they stream, done).
   */
  async fetchBlobToStore(
    repo: RepoRef,
    digest: string,
    store: BlobReader & BlobWriterFactory & BlobFiles,
    size?: number,
    progress?: ProgressRequest,
  ): Promise<void> {
    digestHex(digest);
    const key = `${store.root}\n${digest}`;
    const report = progress ? new TransferReport(progress.listener, digest, size ?? 0, progress.kind, repoName(repo)) : undefined;
    const running = this.downloads.get(key);
    if (running) {
      if (!report) return running;
      // Another caller downloads it: this one sees it start and end, not its bytes.
      report.start('pull');
      await running;
      report.done(size ?? 0);
      return;
    }
    const p = (async () => {
      if (await store.hasBlob(digest)) {
        this.seen.remember(digest, repo);
        const have = (await store.blobSize(digest)) ?? size ?? 0;
        this.session.emit({ type: 'blob-exists', digest, bytes: have, total: have, repository: repoName(repo) });
        report?.start('exists', have);
        report?.done(0);
        return;
      }
      await this.session.transfers.run(() => this.download(repo, digest, store, size, report));
      this.seen.remember(digest, repo);
    })().finally(() => this.downloads.delete(key));
    this.downloads.set(key, p);
    return p;
  }

  private async download(
    repo: RepoRef,
    digest: string,
    store: BlobReader & BlobWriterFactory & BlobFiles,
    size: number | undefined,
    report: TransferReport | undefined,
  ): Promise<void> {
    const s = this.session;
    const reg = await s.registry(repo.domain);
    const name = repoName(repo);
    const ctx: Ctx = { action: `downloading blob ${digest} from ${name}`, domain: repo.domain, repository: repo.path, access: 'pull' };
    const url = blobUrl(reg, repo, digest);
    await s.retries.run(ctx, async () => {
      if (await store.hasBlob(digest)) {
        report?.done(0);
        return;
      }
      const res = await s.send(reg, { method: 'GET', url, scopes: [repositoryScope(repo.path, 'pull')], followRedirects: true, ctx });
      if (res.status === 404) {
        await drain(res);
        throw new RegistryError(`${ctx.action} failed: the registry has no such blob in ${name} (HTTP 404); the image is incomplete`, {
          registry: repo.domain,
          repository: repo.path,
          status: 404,
        });
      }
      if (res.status !== 200) throw await failure(res, ctx, s.auth);
      const declared = Number(header(res, 'content-length') ?? NaN);
      const writer = await store.createBlobWriter();
      const progress = new BlobProgress((e) => s.emit(e), 'blob-download', digest, size ?? (Number.isFinite(declared) ? declared : 0), name);
      let bytes = 0;
      progress.start();
      report?.start('pull', size ?? (Number.isFinite(declared) ? declared : undefined));
      try {
        try {
          for await (const chunk of res.body) {
            const b = chunk as Buffer;
            bytes += b.length;
            if (size !== undefined && bytes > size) {
              res.body.destroy();
              throw this.sizeFailure(ctx, digest, size, `more than ${size} bytes`);
            }
            await writer.write(b);
            progress.at(bytes);
            report?.at(bytes);
          }
        } catch (e) {
          // Ours pass as they are; anything the body stream throws is a network failure.
          if (e instanceof KilnError || e instanceof RetryableFailure) throw e;
          throw toTransportError(e);
        }
        if (size !== undefined && bytes !== size) throw this.sizeFailure(ctx, digest, size, `${bytes} bytes`);
        await writer.commit(digest);
      } catch (e) {
        await writer.abort().catch(() => undefined);
        if (e instanceof DigestMismatchError) {
          const got = e.actual;
          throw new RetryableFailure('digest mismatch', (attempts) =>
            new BlobVerificationError(
              `${ctx.action} failed: the bytes received hash to ${got}, not to the blob's digest, in ${attempts} attempt(s); ` +
                'nothing was stored. The registry or something between (a proxy or cache) corrupts the data: try again later, or check that proxy',
              { registry: repo.domain, repository: repo.path },
            ),
          );
        }
        throw e;
      }
      progress.done(bytes);
      report?.done(bytes);
    });
  }

  private sizeFailure(ctx: Ctx, digest: string, size: number, got: string): RetryableFailure {
    return new RetryableFailure('size mismatch', (attempts) =>
      new BlobVerificationError(
        `${ctx.action} failed: the registry sent ${got} for blob ${digest}, whose descriptor says ${size}, in ${attempts} attempt(s); nothing was stored`,
        ctxDetails(ctx),
      ),
    );
  }

  private notFound(repo: RepoRef, reference: string, ctx: Ctx, entries: RegistryErrorEntry[]): ManifestNotFoundError {
    const codes = entries.map((x) => [x.code, x.message].filter((s) => s !== '').join(': ')).join('; ');
    const shown = reference.includes(':') ? `${repoName(repo)}@${reference}` : `${repoName(repo)}:${reference}`;
    return new ManifestNotFoundError(
      `${ctx.action} failed: image not found: ${shown} does not exist${codes ? ` (${codes})` : ''}; check the repository name and tag` +
        (repo.domain === 'docker.io' ? '' : `, and that you are logged in to ${repo.domain} if the repository is private`),
      { registry: repo.domain, repository: repo.path, status: 404, errors: entries },
    );
  }

  private tooLarge(ctx: Ctx, size: number | undefined): RegistryError {
    return new RegistryError(
      `${ctx.action} failed: the manifest is ${size !== undefined ? `${size} bytes, ` : ''}larger than the ${this.maxManifest}-byte limit; ` +
        'refusing it (a real manifest is a few kilobytes)',
      ctxDetails(ctx),
    );
  }
}
