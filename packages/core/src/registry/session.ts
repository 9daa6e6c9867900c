// The core every registry operation goes through, one per client: the /v2/ ping that finds a
// registry's scheme and the authentication it wants (once per registry), requests sent with their
// Authorization and redirects followed, the retry policy, progress events, and the bound on
// transfers running at once. What an operation asks for and what its answers mean is left to
// fetch.ts, upload.ts and push.ts.

import { KilnError } from '../errors.js';
import { Authenticator } from './auth.js';
import { Semaphore } from './concurrency.js';
import { RegistryError } from './errors.js';
import type { Ctx } from './failures.js';
import { RetryPolicy, retryableStatus } from './retry.js';
import {
  AgentPool,
  TransportError,
  contentType,
  drain,
  exchange,
  header,
  isLoopbackHost,
  isRetryableStatus,
  registryApiHost,
} from './transport.js';
import type { ExchangeRequest, RawResponse, RequestBody } from './transport.js';
import type { RegistryClientOptions, RegistryEvent, RepoRef } from './types.js';

const MAX_REDIRECTS = 5;

/** A registry after its ping. */
export interface Registry {
  domain: string;
  /** scheme://host[:port] of the API. */
  base: URL;
}

export interface SendOptions {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: URL;
  headers?: Record<string, string>;
  body?: RequestBody;
  /** Token scopes the request needs. */
  scopes: string[];
  followRedirects?: boolean;
  ctx: Ctx;
}

/** A request made without the registry's credentials: the session adds agent and timeout. */
type BareRequest = Omit<ExchangeRequest, 'agent' | 'timeoutMs'>;

/** 'domain/path': a repository as users write it. */
export function repoName(repo: RepoRef): string {
  return `${repo.domain}/${repo.path}`;
}

/** `/v2/NAME/manifests/REFERENCE`, REFERENCE a tag or a digest. */
export function manifestUrl(reg: Registry, repo: RepoRef, reference: string): URL {
  return new URL(`/v2/${repo.path}/manifests/${encodeURIComponent(reference)}`, reg.base);
}

/** `/v2/NAME/blobs/DIGEST` (the digest checked by the caller, so written as it is). */
export function blobUrl(reg: Registry, repo: RepoRef, digest: string): URL {
  return new URL(`/v2/${repo.path}/blobs/${digest}`, reg.base);
}

/** `/v2/NAME/blobs/uploads/`, where upload sessions start. */
export function uploadsUrl(reg: Registry, repo: RepoRef): URL {
  return new URL(`/v2/${repo.path}/blobs/uploads/`, reg.base);
}

export function isRedirect(status: number): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}

/** `headers` with the Authorization when `url` is the registry's own origin. */
function authorized(headers: Record<string, string> | undefined, auth: string | undefined, url: URL, reg: Registry): Record<string, string> {
  const h: Record<string, string> = { ...headers };
  // Blob storage a registry redirects to (S3, a CDN) gets no registry credentials.
  if (auth && url.origin === reg.base.origin) h['authorization'] = auth;
  return h;
}

export class RegistrySession {
  readonly auth: Authenticator;
  readonly retries: RetryPolicy;
  /** Blob transfers running at once, downloads and uploads together. */
  readonly transfers: Semaphore;
  private readonly timeoutMs: number;
  private readonly userAgent: string;
  private readonly insecure: Set<string>;
  private readonly agents: AgentPool;
  private readonly registries = new Map<string, Promise<Registry>>();

  constructor(private readonly options: RegistryClientOptions) {
    this.retries = new RetryPolicy({
      retries: Math.max(0, Math.floor(options.retries ?? 4)),
      baseDelayMs: Math.max(0, options.retryBaseDelayMs ?? 250),
      maxRetryAfterMs: Math.max(0, options.maxRetryAfterMs ?? 60_000),
      onRetry: (e) => this.emit(e),
    });
    this.timeoutMs = Math.max(1, options.timeoutMs ?? 60_000);
    this.userAgent = options.userAgent ?? `kiln node/${process.versions.node}`;
    this.insecure = new Set(options.insecureRegistries ?? []);
    const concurrency = Math.max(1, Math.floor(options.concurrency ?? 4));
    this.transfers = new Semaphore(concurrency);
    // A few sockets beyond the transfers, for manifests, HEADs and tokens alongside them.
    const tlsOpts: ConstructorParameters<typeof AgentPool>[0] = { insecure: this.insecure, maxSockets: concurrency + 4 };
    if (options.caCertificates) tlsOpts.caCertificates = options.caCertificates;
    if (options.certsDirs) tlsOpts.certsDirs = options.certsDirs;
    this.agents = new AgentPool(tlsOpts);
    const authOpts: ConstructorParameters<typeof Authenticator>[0] = {
      request: (r) => this.bare({ action: r.what, domain: r.url.host }, r),
      allowPlainHttpRealm: (realm, domain) =>
        isLoopbackHost(realm.host) || this.insecure.has(realm.host) || this.insecure.has(domain) || this.insecure.has(registryApiHost(domain)),
    };
    if (options.credentials) authOpts.credentials = options.credentials;
    this.auth = new Authenticator(authOpts);
  }

  /** Closes idle keep-alive connections; the session can still be used afterwards. */
  close(): void {
    this.agents.destroy();
  }

  /**
   * Ends the session: transfers still running fail (their connections are cut, and no retry or
   * new request is made). For a command that is done, including one that failed while downloads
   * it started in the background still ran.
   */
  cancel(): void {
    this.canceled = true;
    this.agents.destroy();
  }

  private canceled = false;

  emit(e: RegistryEvent): void {
    const fn = this.options.onEvent;
    if (!fn) return;
    try {
      fn(e);
    } catch {
      // a listener's failure must not break a transfer
    }
  }

  /** The registry of `domain`, pinged once (again after a failed ping). */
  registry(domain: string): Promise<Registry> {
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
      let res: RawResponse;
      try {
        res = await this.bare(ctx, { method: 'GET', url: new URL('/v2/', base) });
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
  async send(reg: Registry, o: SendOptions): Promise<RawResponse> {
    let retriedAuth = false;
    for (;;) {
      const auth = await this.auth.authorization(reg.domain, o.scopes);
      let url = o.url;
      let res = await this.exchange(o.method, url, authorized(o.headers, auth, url, reg), o.body);
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
        url = next;
        res = await this.exchange(o.method === 'HEAD' ? 'HEAD' : 'GET', url, authorized(o.headers, auth, url, reg));
      }
      if (res.status === 401 && !retriedAuth && url.origin === reg.base.origin) {
        const ch = this.auth.setChallenge(reg.domain, header(res, 'www-authenticate'));
        this.auth.invalidate(reg.domain, o.scopes);
        // Another try only when it can go differently: a new token, or Basic credentials not sent yet.
        const worthIt =
          ch !== undefined &&
          (ch.scheme === 'bearer' || (ch.scheme === 'basic' && auth === undefined && (await this.auth.hasCredentials(reg.domain))));
        if (worthIt) {
          await drain(res);
          retriedAuth = true;
          continue;
        }
      }
      if (isRetryableStatus(res.status)) throw await retryableStatus(res, this.auth);
      return res;
    }
  }

  /** send() with the retry policy. */
  call(reg: Registry, o: SendOptions): Promise<RawResponse> {
    return this.retries.run(o.ctx, () => this.send(reg, o));
  }

  /** A request without the registry's credentials (the ping, token requests), with the retry policy. */
  private bare(ctx: Ctx, r: BareRequest): Promise<RawResponse> {
    return this.retries.run(ctx, async () => {
      const res = await this.exchange(r.method, r.url, r.headers, r.body);
      if (isRetryableStatus(res.status)) throw await retryableStatus(res, this.auth);
      return res;
    });
  }

  /** One exchange on this session's agents, with its timeout and User-Agent (which `headers` may override). */
  private exchange(method: string, url: URL, headers: Record<string, string> | undefined, body?: RequestBody): Promise<RawResponse> {
    if (this.canceled) return Promise.reject(new KilnError(`not contacting ${url.host}: the registry client was canceled (the command ended)`));
    return exchange({
      method,
      url,
      headers: { 'user-agent': this.userAgent, ...headers },
      ...(body !== undefined ? { body } : {}),
      agent: this.agents.agentFor(url),
      timeoutMs: this.timeoutMs,
    });
  }
}
