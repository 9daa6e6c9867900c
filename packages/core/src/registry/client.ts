// The OCI Distribution client: pull (manifest negotiation, platform selection, verified blob
// downloads into the store), push (HEAD, cross-repository mount, monolithic or chunked upload,
// manifests last), and the low-level operations a registry build cache needs.
// Protocol: https://github.com/opencontainers/distribution-spec/blob/main/spec.md

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { KilnError } from '../errors.js';
import { digestHex } from '../oci/digest.js';
import { formatPlatform, isImageIndex, normalizeManifest, platformMatches, selectManifest } from '../oci/image.js';
import type { OciIndex, OciManifest } from '../oci/image.js';
import { collectImageBlobs, defaultPlatform, parseImageConfig } from '../oci/content.js';
import { MediaTypes } from '../oci/media-types.js';
import type { ImageConfig, Platform } from '../oci/types.js';
import type { ImageReference } from '../reference/reference.js';
import { DigestMismatchError } from '../store/errors.js';
import type { ContentStore } from '../store/types.js';
import { Authenticator, errorSummary, repositoryScope } from './auth.js';
import {
  BlobVerificationError,
  ManifestNotFoundError,
  RegistryAuthError,
  RegistryError,
} from './errors.js';
import type { RegistryErrorEntry } from './errors.js';
import {
  AgentPool,
  TransportError,
  backoffDelay,
  contentType,
  drain,
  exchange,
  header,
  isLoopbackHost,
  isRetryableStatus,
  parseRetryAfter,
  readBody,
  sleep,
  toTransportError,
} from './transport.js';
import type { RawResponse, RequestBody } from './transport.js';
import type { PushResult, RegistryClientOptions, RegistryEvent, RepoRef } from './types.js';

/** Manifest media types asked for, most wanted first. */
export const MANIFEST_ACCEPT = [
  MediaTypes.ociIndex,
  MediaTypes.ociManifest,
  MediaTypes.dockerManifestList,
  MediaTypes.dockerManifest,
].join(', ');

const DEFAULT_CHUNK = 16 * 1024 * 1024;
const DEFAULT_MAX_MANIFEST = 4 * 1024 * 1024;
const ERROR_BODY_LIMIT = 64 * 1024;
const MAX_REDIRECTS = 5;
const MAX_MOUNT_CANDIDATES = 3;
/** Progress events at most every this many bytes (and at the end). */
const PROGRESS_STEP = 512 * 1024;

/** The API host of a registry named in references: Docker Hub's is registry-1.docker.io. */
export function registryApiHost(domain: string): string {
  return domain === 'docker.io' || domain === 'index.docker.io' ? 'registry-1.docker.io' : domain;
}

interface Registry {
  domain: string;
  /** scheme://host[:port] of the API. */
  base: URL;
}

/** What an operation is doing, for errors and retry events. */
interface Ctx {
  /** 'pulling manifest "v1" of 127.0.0.1:5000/app' */
  action: string;
  domain: string;
  repository?: string;
  /** 'pull' or 'push': what a 403 refused. */
  access?: 'pull' | 'push';
}

interface SendOptions {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: URL;
  headers?: Record<string, string>;
  body?: RequestBody;
  scopes: string[];
  followRedirects?: boolean;
  ctx: Ctx;
}

/** An answer worth retrying (5xx, 429): body read for the message the last one gives. */
class RetryableStatus extends Error {
  constructor(
    readonly status: number,
    readonly retryAfterMs: number | undefined,
    readonly detail: string,
    readonly entries: RegistryErrorEntry[],
  ) {
    super(`HTTP ${status}`);
  }
}

/** A failure of a whole operation worth retrying (corrupt download, upload out of step). */
class RetryableFailure extends Error {
  constructor(
    readonly reason: string,
    readonly final: (attempts: number) => Error,
  ) {
    super(reason);
  }
}

/** Bounds the number of blob transfers running at once. */
class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly max: number) {}
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.max) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}

/** Runs every task, waits for all, then throws the first failure (so none is left running). */
async function allOrFirstError<T>(tasks: Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(tasks);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
}

function repoName(repo: RepoRef): string {
  return `${repo.domain}/${repo.path}`;
}

function parseErrorEntries(bytes: Buffer): RegistryErrorEntry[] {
  try {
    const j = JSON.parse(bytes.toString('utf8')) as { errors?: unknown };
    if (!Array.isArray(j.errors)) return [];
    return j.errors
      .map((e) => e as Record<string, unknown>)
      .map((e) => ({ code: typeof e['code'] === 'string' ? e['code'] : '', message: typeof e['message'] === 'string' ? e['message'] : '' }))
      .filter((e) => e.code !== '' || e.message !== '');
  } catch {
    return [];
  }
}

function digestOf(bytes: Buffer, algorithm: string): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}

function isRedirect(status: number): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}

export class RegistryClient {
  private readonly retries: number;
  private readonly baseDelay: number;
  private readonly maxRetryAfter: number;
  private readonly timeoutMs: number;
  private readonly chunkSize: number;
  private readonly maxManifest: number;
  private readonly userAgent: string;
  private readonly insecure: Set<string>;
  private readonly agents: AgentPool;
  private readonly auth: Authenticator;
  private readonly transfers: Semaphore;
  private readonly registries = new Map<string, Promise<Registry>>();
  private readonly downloads = new Map<string, Promise<void>>();
  private readonly uploads = new Map<string, Promise<'uploaded' | 'exists' | 'mounted'>>();
  /** Repositories ('domain/path') a blob is known to be in: mount sources for later pushes. */
  private readonly known = new Map<string, Set<string>>();

  constructor(private readonly options: RegistryClientOptions = {}) {
    this.retries = Math.max(0, Math.floor(options.retries ?? 4));
    this.baseDelay = Math.max(0, options.retryBaseDelayMs ?? 250);
    this.maxRetryAfter = Math.max(0, options.maxRetryAfterMs ?? 60_000);
    this.timeoutMs = Math.max(1, options.timeoutMs ?? 60_000);
    this.chunkSize = Math.max(64 * 1024, Math.floor(options.chunkSize ?? DEFAULT_CHUNK));
    this.maxManifest = options.maxManifestBytes ?? DEFAULT_MAX_MANIFEST;
    this.userAgent = options.userAgent ?? `kiln node/${process.versions.node}`;
    this.insecure = new Set(options.insecureRegistries ?? []);
    const concurrency = Math.max(1, Math.floor(options.concurrency ?? 4));
    this.transfers = new Semaphore(concurrency);
    const tlsOpts: ConstructorParameters<typeof AgentPool>[0] = { insecure: this.insecure, maxSockets: concurrency + 4 };
    if (options.caCertificates) tlsOpts.caCertificates = options.caCertificates;
    if (options.certsDirs) tlsOpts.certsDirs = options.certsDirs;
    this.agents = new AgentPool(tlsOpts);
    const authOpts: ConstructorParameters<typeof Authenticator>[0] = {
      request: (r) => {
        const ctx: Ctx = { action: r.what, domain: r.url.host };
        return this.withRetries(ctx, async () => {
          const res = await exchange({
            method: r.method,
            url: r.url,
            headers: { 'user-agent': this.userAgent, ...r.headers },
            ...(r.body ? { body: r.body } : {}),
            agent: this.agents.agentFor(r.url),
            timeoutMs: this.timeoutMs,
          });
          if (isRetryableStatus(res.status)) throw await this.retryableStatus(res);
          return res;
        });
      },
      allowPlainHttpRealm: (realm, domain) =>
        isLoopbackHost(realm.host) || this.insecure.has(realm.host) || this.insecure.has(domain) || this.insecure.has(registryApiHost(domain)),
    };
    if (options.credentials) authOpts.credentials = options.credentials;
    this.auth = new Authenticator(authOpts);
  }

  /** Closes idle keep-alive connections. The client can still be used afterwards. */
  close(): void {
    this.agents.destroy();
  }

  /** Token requests made so far (each (registry, scopes) is asked once until its token expires). */
  get tokenRequests(): number {
    return this.auth.tokenRequests;
  }

  // -------------------------------------------------------------------------
  // Pull

  /**
   * Resolves `ref`, stores its manifest (and the index, when it is one), then the manifest for
   * `platform` (default: linux on the host's architecture), its config and its layers, each
   * verified against its digest. Blobs already in the store are not downloaded. Does not tag.
   */
  async pull(
    ref: ImageReference,
    store: ContentStore,
    options: { platform?: Platform } = {},
  ): Promise<{ manifestDigest: string; indexDigest?: string; config: ImageConfig }> {
    const name = repoName(ref);
    const reference = ref.digest ?? ref.tag ?? 'latest';
    let current = await this.manifestFromStoreOrRegistry(ref, reference, store);
    let indexDigest: string | undefined;
    let doc = this.parseManifest(current, ref, reference);
    await this.keepManifest(current, ref, store);
    for (let depth = 0; isImageIndex(doc); depth++) {
      if (depth > 4) throw new RegistryError(`pulling ${name}: image indexes are nested too deeply`, { registry: ref.domain, repository: ref.path });
      indexDigest ??= current.digest;
      let child;
      try {
        child = selectManifest(doc as OciIndex, options.platform ?? defaultPlatform());
      } catch (e) {
        throw new RegistryError(`pulling ${name}${ref.tag ? `:${ref.tag}` : ''}: ${(e as Error).message}`, {
          registry: ref.domain,
          repository: ref.path,
        });
      }
      current = await this.manifestFromStoreOrRegistry(ref, child.digest, store);
      doc = this.parseManifest(current, ref, child.digest);
      await this.keepManifest(current, ref, store);
    }
    const manifest = doc as OciManifest;
    const ctxBase = { registry: ref.domain, repository: ref.path };
    await this.fetchBlobToStore(ref, manifest.config.digest, store, manifest.config.size);
    let config: ImageConfig;
    try {
      config = parseImageConfig(await store.readBlob(manifest.config.digest), manifest.config.digest);
    } catch (e) {
      throw new RegistryError(`pulling ${name}: ${(e as Error).message}`, ctxBase);
    }
    const wanted = options.platform;
    if (wanted && indexDigest === undefined) {
      const has: Platform = { os: config.os, architecture: config.architecture, ...(config.variant ? { variant: config.variant } : {}) };
      if (!platformMatches(wanted, has)) {
        throw new RegistryError(
          `pulling ${name}${ref.tag ? `:${ref.tag}` : ''}: the image is for ${formatPlatform(has)}, not ${formatPlatform(wanted)} ` +
            '(it is a single-platform image, not an index); pull it without --platform or push an image for that platform',
          ctxBase,
        );
      }
    }
    // Foreign layers (Windows base layers with `urls`) are not distributed by registries.
    const layers = manifest.layers.filter((l) => !((l.urls?.length ?? 0) > 0 && /foreign|nondistributable/.test(l.mediaType)));
    await allOrFirstError(layers.map((l) => this.fetchBlobToStore(ref, l.digest, store, l.size)));
    return indexDigest !== undefined
      ? { manifestDigest: current.digest, indexDigest, config }
      : { manifestDigest: current.digest, config };
  }

  /** A manifest read from the registry, kept in the store once it parsed (by its verified digest). */
  private async keepManifest(m: { digest: string; bytes: Buffer; fromStore?: boolean }, repo: RepoRef, store: ContentStore): Promise<void> {
    if (m.fromStore) return;
    if (!m.digest.startsWith('sha256:')) {
      throw new RegistryError(`pulling ${repoName(repo)}: the store keeps sha256 digests only, the manifest is ${m.digest}`, {
        registry: repo.domain,
        repository: repo.path,
      });
    }
    await store.writeBlob(m.bytes, m.digest);
  }

  private async manifestFromStoreOrRegistry(
    repo: RepoRef,
    reference: string,
    store: ContentStore,
  ): Promise<{ digest: string; mediaType: string; bytes: Buffer; fromStore?: boolean }> {
    if (reference.startsWith('sha256:') && (await store.hasBlob(reference))) {
      const bytes = await store.readBlob(reference);
      let own: unknown;
      try {
        own = (JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown }).mediaType;
      } catch {
        own = undefined;
      }
      return { digest: reference, mediaType: typeof own === 'string' ? own : 'application/json', bytes, fromStore: true };
    }
    return this.getManifest(repo, reference);
  }

  private parseManifest(m: { digest: string; mediaType: string; bytes: Buffer }, repo: RepoRef, reference: string): OciManifest | OciIndex {
    try {
      return normalizeManifest(m.bytes, m.mediaType);
    } catch (e) {
      throw new RegistryError(`manifest ${JSON.stringify(reference)} of ${repoName(repo)} (${m.digest}): ${(e as Error).message}`, {
        registry: repo.domain,
        repository: repo.path,
      });
    }
  }

  /**
   * The digest a tag points to, from a HEAD (Docker-Content-Digest), or a GET when the registry
   * does not send it. A reference with a digest is returned as it is.
   */
  async resolveDigest(ref: ImageReference): Promise<string> {
    if (ref.digest) return ref.digest;
    const reference = ref.tag ?? 'latest';
    const reg = await this.registry(ref.domain);
    const ctx: Ctx = {
      action: `resolving ${repoName(ref)}:${reference}`,
      domain: ref.domain,
      repository: ref.path,
      access: 'pull',
    };
    const url = new URL(`/v2/${ref.path}/manifests/${encodeURIComponent(reference)}`, reg.base);
    const res = await this.call(reg, {
      method: 'HEAD',
      url,
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
    throw await this.failure(res, ctx);
  }

  // -------------------------------------------------------------------------
  // Manifests

  /** GETs a manifest or index (OCI or Docker) by tag or digest, verified when it is a digest. */
  async getManifest(repo: RepoRef, reference: string): Promise<{ digest: string; mediaType: string; bytes: Buffer }> {
    const reg = await this.registry(repo.domain);
    const ctx: Ctx = {
      action: `pulling manifest ${JSON.stringify(reference)} of ${repoName(repo)}`,
      domain: repo.domain,
      repository: repo.path,
      access: 'pull',
    };
    const url = new URL(`/v2/${repo.path}/manifests/${encodeURIComponent(reference)}`, reg.base);
    return this.withRetries(ctx, async () => {
      const res = await this.send(reg, {
        method: 'GET',
        url,
        headers: { accept: MANIFEST_ACCEPT },
        scopes: [repositoryScope(repo.path, 'pull')],
        ctx,
      });
      if (res.status === 404) {
        const { bytes } = await readBody(res, ERROR_BODY_LIMIT);
        throw this.notFound(repo, reference, ctx, this.errorEntries(bytes));
      }
      if (res.status !== 200) throw await this.failure(res, ctx);
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
      let mediaType = ct !== undefined && ct !== 'application/json' && ct !== 'application/octet-stream' && ct !== 'text/plain' ? ct : undefined;
      if (mediaType === undefined) {
        try {
          const own = (JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown }).mediaType;
          if (typeof own === 'string') mediaType = own;
        } catch {
          // normalizeManifest reports bad JSON with a clear message
        }
      }
      return { digest, mediaType: mediaType ?? ct ?? 'application/json', bytes };
    });
  }

  /** PUTs a manifest under a tag or its digest; returns its digest. */
  async putManifest(repo: RepoRef, reference: string, bytes: Buffer, mediaType: string): Promise<string> {
    const reg = await this.registry(repo.domain);
    const digest = digestOf(bytes, 'sha256');
    const ctx: Ctx = {
      action: `pushing manifest ${reference === digest ? digest : JSON.stringify(reference)} to ${repoName(repo)}`,
      domain: repo.domain,
      repository: repo.path,
      access: 'push',
    };
    const url = new URL(`/v2/${repo.path}/manifests/${encodeURIComponent(reference)}`, reg.base);
    const res = await this.call(reg, {
      method: 'PUT',
      url,
      headers: { 'content-type': mediaType },
      body: bytes,
      scopes: [repositoryScope(repo.path, 'pull,push')],
      ctx,
    });
    if (res.status !== 201 && res.status !== 200 && res.status !== 202) throw await this.failure(res, ctx);
    await drain(res);
    const claimed = header(res, 'docker-content-digest');
    if (claimed && claimed.startsWith('sha256:') && claimed !== digest) {
      throw new RegistryError(`${ctx.action} failed: the registry stored it as ${claimed}, but its bytes hash to ${digest}`, {
        registry: repo.domain,
        repository: repo.path,
      });
    }
    return digest;
  }

  // -------------------------------------------------------------------------
  // Blobs

  /** Whether the repository has the blob (HEAD). */
  async hasBlob(repo: RepoRef, digest: string): Promise<boolean> {
    digestHex(digest);
    const reg = await this.registry(repo.domain);
    const ctx: Ctx = { action: `checking blob ${digest} in ${repoName(repo)}`, domain: repo.domain, repository: repo.path, access: 'pull' };
    return this.withRetries(ctx, () => this.blobExists(reg, repo, digest, [repositoryScope(repo.path, 'pull')], ctx));
  }

  private async blobExists(reg: Registry, repo: RepoRef, digest: string, scopes: string[], ctx: Ctx): Promise<boolean> {
    const url = new URL(`/v2/${repo.path}/blobs/${digest}`, reg.base);
    // A redirect means the registry has it (and sends it from storage): not followed, since a
    // storage URL signed for GET may refuse HEAD.
    const res = await this.send(reg, { method: 'HEAD', url, scopes, ctx });
    await drain(res);
    if (res.status === 200 || isRedirect(res.status)) {
      this.remember(digest, repo);
      return true;
    }
    if (res.status === 404) return false;
    throw await this.failure(res, ctx);
  }

  /**
   * Downloads a blob into the store, streaming, verified against its digest (and `size` when
   * given) before it becomes visible. A corrupt or cut download is retried; nothing unverified is
   * ever stored. A blob the store has is not downloaded.
   */
  async fetchBlobToStore(repo: RepoRef, digest: string, store: ContentStore, size?: number): Promise<void> {
    digestHex(digest);
    const key = `${store.root}\n${digest}`;
    const running = this.downloads.get(key);
    if (running) return running;
    const p = (async () => {
      if (await store.hasBlob(digest)) {
        this.remember(digest, repo);
        const have = (await store.blobSize(digest)) ?? size ?? 0;
        this.emit({ type: 'blob-exists', digest, bytes: have, total: have, repository: repoName(repo) });
        return;
      }
      await this.transfers.run(() => this.download(repo, digest, store, size));
      this.remember(digest, repo);
    })().finally(() => this.downloads.delete(key));
    this.downloads.set(key, p);
    return p;
  }

  private async download(repo: RepoRef, digest: string, store: ContentStore, size: number | undefined): Promise<void> {
    const reg = await this.registry(repo.domain);
    const name = repoName(repo);
    const ctx: Ctx = { action: `downloading blob ${digest} from ${name}`, domain: repo.domain, repository: repo.path, access: 'pull' };
    const url = new URL(`/v2/${repo.path}/blobs/${digest}`, reg.base);
    await this.withRetries(ctx, async () => {
      if (await store.hasBlob(digest)) return;
      const res = await this.send(reg, { method: 'GET', url, scopes: [repositoryScope(repo.path, 'pull')], followRedirects: true, ctx });
      if (res.status === 404) {
        await drain(res);
        throw new RegistryError(`${ctx.action} failed: the registry has no such blob in ${name} (HTTP 404); the image is incomplete`, {
          registry: repo.domain,
          repository: repo.path,
          status: 404,
        });
      }
      if (res.status !== 200) throw await this.failure(res, ctx);
      const declared = Number(header(res, 'content-length') ?? NaN);
      const total = size ?? (Number.isFinite(declared) ? declared : 0);
      const writer = await store.createBlobWriter();
      let bytes = 0;
      let reported = 0;
      this.emit({ type: 'blob-download', digest, bytes: 0, total, repository: name });
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
            if (bytes - reported >= PROGRESS_STEP) {
              reported = bytes;
              this.emit({ type: 'blob-download', digest, bytes, total, repository: name });
            }
          }
        } catch (e) {
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
      this.emit({ type: 'blob-download', digest, bytes, total: bytes, repository: name });
    });
  }

  private sizeFailure(ctx: Ctx, digest: string, size: number, got: string): RetryableFailure {
    return new RetryableFailure('size mismatch', (attempts) =>
      new BlobVerificationError(
        `${ctx.action} failed: the registry sent ${got} for blob ${digest}, whose descriptor says ${size}, in ${attempts} attempt(s); nothing was stored`,
        { registry: ctx.domain, ...(ctx.repository ? { repository: ctx.repository } : {}) },
      ),
    );
  }

  /**
   * Uploads one blob from the store: nothing when the repository has it, a cross-repository mount
   * when one of `mountFrom` (repositories of the same registry, plus those this client saw the blob
   * in) has it, else an upload (one PUT up to `chunkSize`, else PATCH chunks then PUT). A failed
   * attempt starts over with a new upload session.
   */
  async uploadBlob(
    repo: RepoRef,
    store: ContentStore,
    digest: string,
    options: { mountFrom?: string[] } = {},
  ): Promise<'uploaded' | 'exists' | 'mounted'> {
    digestHex(digest);
    const key = `${repoName(repo)}\n${digest}`;
    const running = this.uploads.get(key);
    if (running) return running;
    const p = this.transfers
      .run(() => this.pushBlob(repo, store, digest, this.mountCandidates(repo, digest, options.mountFrom ?? [])))
      .finally(() => this.uploads.delete(key));
    this.uploads.set(key, p);
    return p;
  }

  private mountCandidates(repo: RepoRef, digest: string, explicit: string[]): string[] {
    const out: string[] = [];
    const add = (path: string): void => {
      if (path !== repo.path && path !== '' && !out.includes(path)) out.push(path);
    };
    for (const m of explicit) {
      const s = m.replace(/^\/+|\/+$/g, '');
      if (s.startsWith(`${repo.domain}/`)) add(s.slice(repo.domain.length + 1));
      else {
        const first = s.split('/')[0] ?? '';
        const looksLikeHost = s.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
        if (!looksLikeHost) add(s);
      }
    }
    for (const loc of this.known.get(digest) ?? []) {
      if (loc.startsWith(`${repo.domain}/`)) add(loc.slice(repo.domain.length + 1));
    }
    return out.slice(0, MAX_MOUNT_CANDIDATES);
  }

  private remember(digest: string, repo: RepoRef): void {
    let s = this.known.get(digest);
    if (!s) this.known.set(digest, (s = new Set()));
    s.add(repoName(repo));
  }

  private async pushBlob(repo: RepoRef, store: ContentStore, digest: string, candidates: string[]): Promise<'uploaded' | 'exists' | 'mounted'> {
    const size = await store.blobSize(digest);
    if (size === undefined) {
      throw new KilnError(`cannot push blob ${digest} to ${repoName(repo)}: it is not in the Kiln store at ${store.root}`);
    }
    const reg = await this.registry(repo.domain);
    const name = repoName(repo);
    const ctx: Ctx = { action: `pushing blob ${digest} to ${name}`, domain: repo.domain, repository: repo.path, access: 'push' };
    const pushScope = repositoryScope(repo.path, 'pull,push');
    return this.withRetries(ctx, async () => {
      if (await this.blobExists(reg, repo, digest, [pushScope], ctx)) {
        this.emit({ type: 'blob-exists', digest, bytes: size, total: size, repository: name });
        return 'exists';
      }
      let location: URL | undefined;
      for (let i = 0; i < candidates.length; i++) {
        const from = candidates[i] as string;
        const url = new URL(`/v2/${repo.path}/blobs/uploads/`, reg.base);
        url.searchParams.set('mount', digest);
        url.searchParams.set('from', from);
        let res: RawResponse;
        try {
          res = await this.send(reg, { method: 'POST', url, scopes: [pushScope, repositoryScope(from, 'pull')], ctx });
        } catch (e) {
          if (e instanceof RegistryAuthError) continue; // no access to the source: upload instead
          throw e;
        }
        if (res.status === 201) {
          await drain(res);
          this.remember(digest, repo);
          this.emit({ type: 'blob-mounted', digest, bytes: size, total: size, repository: name });
          return 'mounted';
        }
        if (res.status === 202) {
          const loc = this.uploadLocation(res, ctx);
          await drain(res);
          if (i === candidates.length - 1) location = loc;
          else await this.cancelUpload(reg, loc, pushScope, ctx);
          continue;
        }
        if (res.status === 401 || res.status === 403 || res.status === 404) {
          await drain(res);
          continue;
        }
        throw await this.failure(res, ctx);
      }
      location ??= await this.startUpload(reg, repo, pushScope, ctx);
      const path = store.blobPath(digest);
      let sent = 0;
      let reported = 0;
      const progress = (n: number): void => {
        sent = Math.min(size, sent + n);
        if (sent - reported >= PROGRESS_STEP) {
          reported = sent;
          this.emit({ type: 'blob-upload', digest, bytes: sent, total: size, repository: name });
        }
      };
      const fileBody = (start: number, end: number): RequestBody => {
        if (end <= start) return Buffer.alloc(0);
        return {
          length: end - start,
          open: () => {
            const s = createReadStream(path, { start, end: end - 1, highWaterMark: 1024 * 1024 });
            s.on('data', (c) => progress((c as Buffer).length));
            return s;
          },
        };
      };
      this.emit({ type: 'blob-upload', digest, bytes: 0, total: size, repository: name });
      if (size > this.chunkSize) {
        let offset = 0;
        while (offset < size) {
          const end = Math.min(size, offset + this.chunkSize);
          const res = await this.send(reg, {
            method: 'PATCH',
            url: location,
            headers: { 'content-type': 'application/octet-stream', 'content-range': `${offset}-${end - 1}` },
            body: fileBody(offset, end),
            scopes: [pushScope],
            ctx,
          });
          if (res.status !== 202 && res.status !== 204) {
            if (res.status === 416) {
              await drain(res);
              throw this.uploadOutOfStep(ctx, 'the registry refused the chunk range (HTTP 416)');
            }
            throw await this.failure(res, ctx);
          }
          const range = /(\d+)\s*-\s*(\d+)/.exec(header(res, 'range') ?? '');
          location = this.uploadLocation(res, ctx);
          await drain(res);
          if (range && Number(range[2]) !== end - 1) {
            throw this.uploadOutOfStep(ctx, `the registry has bytes ${range[1]}-${range[2]}, ${end - 1} was the last sent`);
          }
          offset = end;
        }
        const res = await this.send(reg, { method: 'PUT', url: withDigest(location, digest), scopes: [pushScope], ctx });
        await this.finishUpload(res, ctx, digest);
      } else {
        const res = await this.send(reg, {
          method: 'PUT',
          url: withDigest(location, digest),
          headers: { 'content-type': 'application/octet-stream' },
          body: fileBody(0, size),
          scopes: [pushScope],
          ctx,
        });
        await this.finishUpload(res, ctx, digest);
      }
      this.remember(digest, repo);
      this.emit({ type: 'blob-upload', digest, bytes: size, total: size, repository: name });
      return 'uploaded';
    });
  }

  private uploadOutOfStep(ctx: Ctx, why: string): RetryableFailure {
    return new RetryableFailure('upload out of step', (attempts) =>
      new RegistryError(`${ctx.action} failed: ${why}, in ${attempts} attempt(s)`, {
        registry: ctx.domain,
        ...(ctx.repository ? { repository: ctx.repository } : {}),
      }),
    );
  }

  private async startUpload(reg: Registry, repo: RepoRef, pushScope: string, ctx: Ctx): Promise<URL> {
    const url = new URL(`/v2/${repo.path}/blobs/uploads/`, reg.base);
    const res = await this.send(reg, { method: 'POST', url, scopes: [pushScope], ctx });
    if (res.status !== 202) throw await this.failure(res, ctx);
    const loc = this.uploadLocation(res, ctx);
    await drain(res);
    return loc;
  }

  private async finishUpload(res: RawResponse, ctx: Ctx, digest: string): Promise<void> {
    if (res.status !== 201 && res.status !== 204 && res.status !== 200) throw await this.failure(res, ctx);
    await drain(res);
    const claimed = header(res, 'docker-content-digest');
    if (claimed && claimed !== digest) {
      throw new RegistryError(`${ctx.action} failed: the registry stored the blob as ${claimed}`, {
        registry: ctx.domain,
        ...(ctx.repository ? { repository: ctx.repository } : {}),
      });
    }
  }

  private async cancelUpload(reg: Registry, location: URL, pushScope: string, ctx: Ctx): Promise<void> {
    try {
      const res = await this.send(reg, { method: 'DELETE', url: location, scopes: [pushScope], ctx });
      await drain(res);
    } catch {
      // an abandoned upload session expires on its own
    }
  }

  private uploadLocation(res: RawResponse, ctx: Ctx): URL {
    const loc = header(res, 'location');
    if (!loc) {
      throw new RegistryError(`${ctx.action} failed: the registry answered HTTP ${res.status} without a Location for the upload`, {
        registry: ctx.domain,
        ...(ctx.repository ? { repository: ctx.repository } : {}),
      });
    }
    return new URL(loc, res.url);
  }

  // -------------------------------------------------------------------------
  // Push

  /**
   * Pushes an image (manifest or index) from the store to every reference: per repository, every
   * blob (config and layers, in parallel up to `concurrency`) is HEADed, mounted or uploaded, then
   * index children by digest, then the manifest under each tag — last, so a failed push tags
   * nothing. Later repositories of the same registry mount what earlier ones received.
   */
  async push(
    store: ContentStore,
    manifestDigest: string,
    refs: ImageReference[],
    options: { mountFrom?: string[] } = {},
  ): Promise<PushResult> {
    if (refs.length === 0) throw new KilnError('push: no image reference to push to');
    const { root, blobs } = await collectImageBlobs(store, manifestDigest);
    for (const r of refs) {
      if (r.digest !== undefined && r.digest !== manifestDigest) {
        throw new KilnError(
          `cannot push ${manifestDigest} as ${repoName(r)}@${r.digest}: a reference with a digest names that exact content; drop the digest or push the image it names`,
        );
      }
    }
    const content = blobs.filter((b) => b.role === 'config' || b.role === 'layer');
    const children = blobs.filter((b) => (b.role === 'manifest' || b.role === 'index') && b.digest !== root.digest).reverse();
    const groups = new Map<string, { repo: RepoRef; refs: ImageReference[] }>();
    for (const r of refs) {
      const k = repoName(r);
      const g = groups.get(k) ?? { repo: { domain: r.domain, path: r.path }, refs: [] };
      g.refs.push(r);
      groups.set(k, g);
    }
    const result: PushResult = { digest: manifestDigest, uploadedBlobs: 0, uploadedBytes: 0, mountedBlobs: 0, existingBlobs: 0 };
    const done: RepoRef[] = [];
    for (const { repo, refs: group } of groups.values()) {
      const mountFrom = [...(options.mountFrom ?? []), ...done.filter((d) => d.domain === repo.domain).map((d) => d.path)];
      const present = await Promise.all(content.map(async (b) => (await store.hasBlob(b.digest)) || !b.optional));
      const outcomes = await allOrFirstError(
        content.map(async (b, i) => {
          if (!present[i]) return { how: 'skipped' as const, size: 0 };
          const how = await this.uploadBlob(repo, store, b.digest, { mountFrom });
          return { how, size: b.size };
        }),
      );
      for (const o of outcomes) {
        if (o.how === 'uploaded') {
          result.uploadedBlobs++;
          result.uploadedBytes += o.size;
        } else if (o.how === 'mounted') result.mountedBlobs++;
        else if (o.how === 'exists') result.existingBlobs++;
      }
      for (const c of children) {
        const bytes = await store.readBlob(c.digest);
        await this.putManifest(repo, c.digest, bytes, c.mediaType);
      }
      const refsToPut = group.some((r) => r.tag !== undefined) ? group.filter((r) => r.tag !== undefined) : group;
      for (const r of refsToPut) {
        const d = await this.putManifest(repo, r.tag ?? manifestDigest, root.bytes, root.mediaType);
        if (d !== manifestDigest) {
          throw new RegistryError(`pushing ${repoName(r)}: the manifest sent hashes to ${d}, not ${manifestDigest}; the store is corrupt`, {
            registry: repo.domain,
            repository: repo.path,
          });
        }
      }
      done.push(repo);
    }
    return result;
  }

  // -------------------------------------------------------------------------
  // Requests

  private emit(e: RegistryEvent): void {
    const fn = this.options.onEvent;
    if (!fn) return;
    try {
      fn(e);
    } catch {
      // a listener's failure must not break a transfer
    }
  }

  private registry(domain: string): Promise<Registry> {
    if (this.options.loopbackOnly && !isLoopbackHost(domain)) {
      return Promise.reject(
        new KilnError(`not contacting registry ${domain}: Kiln is offline (KILN_OFFLINE=1 or --offline) and only speaks to registries on this machine`),
      );
    }
    let p = this.registries.get(domain);
    if (!p) {
      p = this.ping(domain);
      this.registries.set(domain, p);
      p.catch(() => this.registries.delete(domain));
    }
    return p;
  }

  private mayUsePlainHttp(domain: string, host: string): boolean {
    return isLoopbackHost(host) || this.insecure.has(domain) || this.insecure.has(host);
  }

  /**
   * GET /v2/: finds the scheme (HTTPS; plain HTTP only for local and insecure registries that do
   * not speak TLS) and the authentication the registry wants.
   */
  private async ping(domain: string): Promise<Registry> {
    if (domain === '') {
      throw new RegistryError('the image reference names no registry', { registry: domain });
    }
    const host = registryApiHost(domain);
    const schemes = this.mayUsePlainHttp(domain, host) ? ['https:', 'http:'] : ['https:'];
    const ctx: Ctx = { action: `contacting registry ${domain}`, domain };
    for (const scheme of schemes) {
      const base = new URL(`${scheme}//${host}`);
      const url = new URL('/v2/', base);
      let res: RawResponse;
      try {
        res = await this.withRetries(ctx, async () => {
          const r = await exchange({ method: 'GET', url, headers: { 'user-agent': this.userAgent }, agent: this.agents.agentFor(url), timeoutMs: this.timeoutMs });
          if (isRetryableStatus(r.status)) throw await this.retryableStatus(r);
          return r;
        });
      } catch (e) {
        const cause = e instanceof RegistryError ? e.cause : undefined;
        if (scheme === 'https:' && schemes.length > 1 && cause instanceof TransportError && (cause.kind === 'tls-protocol' || cause.code === 'ECONNRESET')) {
          continue; // a plain-HTTP registry
        }
        throw e;
      }
      const ct = contentType(res);
      if (res.status === 401) this.auth.setChallenge(domain, header(res, 'www-authenticate'));
      if (res.status !== 200 && res.status !== 401 && res.status !== 403 && ct === 'text/html') {
        await drain(res);
        throw new RegistryError(
          `${ctx.action} failed: ${base.origin}/v2/ answered HTTP ${res.status} with an HTML page; ${domain} does not look like a container registry (or a proxy or login page is in the way)`,
          { registry: domain, status: res.status },
        );
      }
      await drain(res);
      return { domain, base };
    }
    throw new RegistryError(`${ctx.action} failed`, { registry: domain });
  }

  /** One request with auth (one retry after a 401 with a fresh challenge) and redirects; 5xx/429 throw RetryableStatus. */
  private async send(reg: Registry, o: SendOptions): Promise<RawResponse> {
    let retriedAuth = false;
    for (;;) {
      const auth = await this.auth.authorization(reg.domain, o.scopes);
      let url = o.url;
      const headers: Record<string, string> = { 'user-agent': this.userAgent, ...o.headers };
      if (auth && url.origin === reg.base.origin) headers['authorization'] = auth;
      let res = await exchange({
        method: o.method,
        url,
        headers,
        ...(o.body !== undefined ? { body: o.body } : {}),
        agent: this.agents.agentFor(url),
        timeoutMs: this.timeoutMs,
      });
      let hops = 0;
      while (o.followRedirects && isRedirect(res.status) && header(res, 'location')) {
        const next = new URL(header(res, 'location') as string, url);
        await drain(res);
        if (++hops > MAX_REDIRECTS) {
          throw new RegistryError(`${o.ctx.action} failed: more than ${MAX_REDIRECTS} redirects`, {
            registry: reg.domain,
            ...(o.ctx.repository ? { repository: o.ctx.repository } : {}),
          });
        }
        if (next.protocol !== 'https:' && next.protocol !== 'http:') {
          throw new RegistryError(`${o.ctx.action} failed: redirected to a ${next.protocol} URL`, { registry: reg.domain });
        }
        if (url.protocol === 'https:' && next.protocol === 'http:' && !this.mayUsePlainHttp(next.host, next.host)) {
          throw new RegistryError(`${o.ctx.action} failed: the registry redirected from HTTPS to plain HTTP (${next.host}); refused`, {
            registry: reg.domain,
          });
        }
        // Blob storage (S3, a CDN) gets no registry credentials: only the registry's own origin does.
        const h: Record<string, string> = { 'user-agent': this.userAgent, ...o.headers };
        if (auth && next.origin === reg.base.origin) h['authorization'] = auth;
        url = next;
        res = await exchange({ method: o.method === 'HEAD' ? 'HEAD' : 'GET', url, headers: h, agent: this.agents.agentFor(url), timeoutMs: this.timeoutMs });
      }
      if (res.status === 401 && !retriedAuth && url.origin === reg.base.origin) {
        const ch = this.auth.setChallenge(reg.domain, header(res, 'www-authenticate'));
        this.auth.invalidate(reg.domain, o.scopes);
        const worthIt =
          ch !== undefined &&
          (ch.scheme === 'bearer' || (ch.scheme === 'basic' && auth === undefined && (await this.auth.hasCredentials(reg.domain))));
        if (worthIt) {
          await drain(res);
          retriedAuth = true;
          continue;
        }
      }
      if (isRetryableStatus(res.status)) throw await this.retryableStatus(res);
      return res;
    }
  }

  /** send() with the retry policy. */
  private call(reg: Registry, o: SendOptions): Promise<RawResponse> {
    return this.withRetries(o.ctx, () => this.send(reg, o));
  }

  private async retryableStatus(res: RawResponse): Promise<RetryableStatus> {
    let bytes: Buffer = Buffer.alloc(0);
    try {
      bytes = (await readBody(res, ERROR_BODY_LIMIT)).bytes;
    } catch {
      // the status is what matters
    }
    return new RetryableStatus(
      res.status,
      parseRetryAfter(header(res, 'retry-after')),
      this.auth.redact(errorSummary(bytes)),
      this.errorEntries(bytes),
    );
  }

  private async withRetries<T>(ctx: Ctx, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        let reason: string | undefined;
        let retryAfter: number | undefined;
        if (e instanceof RetryableStatus) {
          reason = `HTTP ${e.status}`;
          retryAfter = e.retryAfterMs;
        } else if (e instanceof TransportError && e.retryable) reason = e.code;
        else if (e instanceof RetryableFailure) reason = e.reason;
        if (reason === undefined) throw this.finalError(e, ctx, attempt + 1);
        if (attempt >= this.retries) throw this.finalError(e, ctx, attempt + 1);
        const delay = retryAfter !== undefined ? Math.min(retryAfter, this.maxRetryAfter) : backoffDelay(attempt, this.baseDelay);
        this.emit({ type: 'retry', what: ctx.action, attempt: attempt + 1, delayMs: delay, reason });
        await sleep(delay);
      }
    }
  }

  private finalError(e: unknown, ctx: Ctx, attempts: number): unknown {
    const details = { registry: ctx.domain, ...(ctx.repository ? { repository: ctx.repository } : {}) };
    const tries = attempts > 1 ? ` (${attempts} attempts)` : '';
    if (e instanceof RetryableStatus) {
      const detail = e.detail ? ` (${e.detail})` : '';
      const message =
        e.status === 429
          ? `${ctx.action} failed: the registry keeps answering 429 Too Many Requests${detail}${tries}; it is rate limiting — wait and try again, or log in (kiln login ${ctx.domain}) for a higher limit`
          : `${ctx.action} failed: the registry answered HTTP ${e.status}${detail}${tries}; the registry is having trouble — try again later`;
      return new RegistryError(message, { ...details, status: e.status, errors: e.entries });
    }
    if (e instanceof RetryableFailure) return e.final(attempts);
    if (e instanceof TransportError) {
      const err = new RegistryError(this.transportMessage(e, ctx, tries), details);
      err.cause = e;
      return err;
    }
    return e;
  }

  private transportMessage(e: TransportError, ctx: Ctx, tries: string): string {
    const host = registryApiHost(ctx.domain);
    switch (e.kind) {
      case 'dns':
        return `${ctx.action} failed: cannot resolve the host ${host} (${e.code}); check the registry name and the network`;
      case 'tls-verify':
        return (
          `${ctx.action} failed: the TLS certificate of ${host} is not trusted (${e.code}: ${e.message}); ` +
          `put the CA certificate in /etc/docker/certs.d/${host}/ca.crt or NODE_EXTRA_CA_CERTS, or list ${ctx.domain} as an insecure registry`
        );
      case 'tls-protocol':
        return (
          `${ctx.action} failed: the TLS handshake with ${host} failed (${e.code}: ${e.message}); if the registry speaks plain HTTP, ` +
          `list ${ctx.domain} as an insecure registry`
        );
      default:
        return `${ctx.action} failed: cannot reach ${host}: ${e.code} (${e.message})${tries}; check that the registry is running and reachable`;
    }
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
      { registry: ctx.domain, ...(ctx.repository ? { repository: ctx.repository } : {}) },
    );
  }

  /** The registry's `{"errors":[…]}` entries, with any secret of ours masked. */
  private errorEntries(bytes: Buffer): RegistryErrorEntry[] {
    return parseErrorEntries(bytes).map((e) => ({ code: this.auth.redact(e.code), message: this.auth.redact(e.message) }));
  }

  /** An error for an answer that is not the expected one. */
  private async failure(res: RawResponse, ctx: Ctx): Promise<RegistryError> {
    let bytes: Buffer = Buffer.alloc(0);
    try {
      bytes = (await readBody(res, ERROR_BODY_LIMIT)).bytes;
    } catch {
      // the status is enough
    }
    const entries = this.errorEntries(bytes);
    const summary = this.auth.redact(errorSummary(bytes));
    const ct = contentType(res);
    const detail = summary ? ` (${summary})` : '';
    const details = { registry: ctx.domain, ...(ctx.repository ? { repository: ctx.repository } : {}), status: res.status, errors: entries };
    const hasCreds = await this.auth.hasCredentials(ctx.domain).catch(() => false);
    const insufficientScope = /error="?insufficient_scope/i.test(header(res, 'www-authenticate') ?? '');
    if (res.status === 401 && !(hasCreds && insufficientScope)) {
      return new RegistryAuthError(
        hasCreds
          ? `${ctx.action} failed: authentication failed: ${ctx.domain} rejected the credentials${detail}; check the username and password or token, then run kiln login ${ctx.domain}`
          : `${ctx.action} failed: authentication required${detail}: run kiln login ${ctx.domain}`,
        details,
      );
    }
    if (res.status === 403 || res.status === 401) {
      const who = hasCreds ? 'the logged-in account' : 'anonymous users';
      const what = ctx.access ?? 'access';
      return new RegistryAuthError(
        `${ctx.action} failed: access denied${detail}: ${who} may not ${what} ${ctx.repository ? `${ctx.domain}/${ctx.repository}` : ctx.domain}; ` +
          `check the repository name and your permissions${hasCreds ? '' : `, or run kiln login ${ctx.domain}`}`,
        details,
      );
    }
    if (ct === 'text/html' || summary === 'an HTML page') {
      return new RegistryError(
        `${ctx.action} failed: the server answered HTTP ${res.status} with an HTML page instead of the registry API; ` +
          `is ${ctx.domain} a container registry (or is a proxy or login page in the way)?`,
        details,
      );
    }
    return new RegistryError(`${ctx.action} failed: the registry answered HTTP ${res.status}${detail}`, details);
  }
}

/** The upload URL with `digest=` added to its query (the rest kept as the registry wrote it). */
function withDigest(location: URL, digest: string): URL {
  const u = new URL(location.href);
  u.hash = '';
  const q = u.search.replace(/^\?/, '');
  u.search = `${q}${q ? '&' : ''}digest=${encodeURIComponent(digest)}`;
  return u;
}
