// HTTP for the registry client on node:http / node:https: one request at a time (no redirects, no
// retries: session.ts and retry.ts decide those), keep-alive agents per host, TLS trust per
// registry, and the small pieces of retry policy (which failures are transient, backoff,
// Retry-After).
//
// Why not the built-in fetch: on Node 20 it cannot be given a CA (its dispatcher comes from the
// bundled undici, which Node 20 does not export, and the npm undici that would must not be
// added), so a registry with a private CA would need NODE_EXTRA_CA_CERTS set before the process
// starts. node:https takes a `ca` per agent, so Docker's per-registry `certs.d/HOST/ca.crt` and
// the `caCertificates` option work in a running process; streaming a file as a request body with
// a Content-Length is also direct here.

import { readFileSync, readdirSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import tls from 'node:tls';

/** A request body: bytes, or a stream that can be opened again for every attempt. */
export type RequestBody = Buffer | { length: number; open: () => Readable };

export interface ExchangeRequest {
  method: string;
  url: URL;
  headers?: Record<string, string>;
  body?: RequestBody;
  agent: http.Agent;
  timeoutMs: number;
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The body stream: read it (readBody) or drain it, always. */
  body: http.IncomingMessage;
  url: URL;
}

/** Why a request got no answer. `kind` drives retries and the http fallback. */
export type TransportFailureKind =
  /** Connection reset, refused, timed out, …: worth another try. */
  | 'transient'
  /** The name does not resolve: retrying will not help. */
  | 'dns'
  /** The server's certificate is not trusted (unknown CA, wrong name, expired). */
  | 'tls-verify'
  /** The server does not speak TLS (or speaks it badly): a plain-HTTP server, or a broken proxy. */
  | 'tls-protocol'
  | 'other';

export class TransportError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly kind: TransportFailureKind,
  ) {
    super(message);
    this.name = 'TransportError';
  }
  get retryable(): boolean {
    return this.kind === 'transient';
  }
}

const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENETUNREACH',
  'ENETDOWN',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET',
  'ESOCKETTIMEDOUT',
]);

const TLS_VERIFY_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'HOSTNAME_MISMATCH',
]);

/** Turns what node:http throws into a TransportError with a kind. */
export function toTransportError(err: unknown): TransportError {
  if (err instanceof TransportError) return err;
  const e = err as NodeJS.ErrnoException & { reason?: string };
  const code = typeof e?.code === 'string' ? e.code : '';
  const message = e instanceof Error ? e.message : String(err);
  if (code === 'ENOTFOUND') return new TransportError(message, code, 'dns');
  if (TLS_VERIFY_CODES.has(code)) return new TransportError(message, code, 'tls-verify');
  if (code === 'EPROTO' || code.startsWith('ERR_SSL_') || /wrong version number|packet length too long|http request/i.test(message)) {
    return new TransportError(message, code || 'EPROTO', 'tls-protocol');
  }
  if (TRANSIENT_CODES.has(code) || /socket hang up|aborted|fetch failed|other side closed/i.test(message)) {
    return new TransportError(message, code || 'ECONNRESET', 'transient');
  }
  return new TransportError(message, code || 'EUNKNOWN', 'other');
}

/** Sends one request and resolves with the response head; the body is left to the caller. */
export function exchange(r: ExchangeRequest): Promise<RawResponse> {
  return new Promise<RawResponse>((resolve, reject) => {
    const mod = r.url.protocol === 'https:' ? https : http;
    const headers: Record<string, string> = { ...r.headers };
    if (r.body !== undefined) headers['content-length'] = String(r.body.length);
    else if (r.method === 'PUT' || r.method === 'POST' || r.method === 'PATCH') headers['content-length'] = '0';
    let settled = false;
    const fail = (err: unknown): void => {
      if (settled) return;
      settled = true;
      reject(toTransportError(err));
    };
    const req = mod.request(r.url, { method: r.method, headers, agent: r.agent }, (res) => {
      if (settled) {
        res.resume();
        return;
      }
      settled = true;
      // Errors on the body surface where it is read; this listener only keeps an unread, broken
      // body from becoming an uncaught 'error' event.
      res.on('error', () => undefined);
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res, url: r.url });
    });
    req.setTimeout(r.timeoutMs, () => {
      const within = r.timeoutMs >= 1000 ? `${Math.round(r.timeoutMs / 1000)} s` : `${r.timeoutMs} ms`;
      req.destroy(new TransportError(`no answer from ${r.url.host} within ${within}`, 'ETIMEDOUT', 'transient'));
    });
    req.on('error', fail);
    const body = r.body;
    if (body === undefined) req.end();
    else if (Buffer.isBuffer(body)) req.end(body);
    else {
      const src = body.open();
      src.on('error', (err) => {
        req.destroy();
        fail(err);
      });
      req.on('close', () => src.destroy());
      src.pipe(req);
    }
  });
}

/** Reads a whole response body, at most `limit` bytes (more: `tooLarge`, the rest discarded). */
export async function readBody(res: RawResponse, limit: number): Promise<{ bytes: Buffer; tooLarge: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of res.body) {
      const b = chunk as Buffer;
      size += b.length;
      if (size > limit) {
        res.body.destroy();
        return { bytes: Buffer.concat(chunks), tooLarge: true };
      }
      chunks.push(b);
    }
  } catch (e) {
    throw toTransportError(e);
  }
  return { bytes: Buffer.concat(chunks), tooLarge: false };
}

/** Throws the body away (so the connection can be reused); small bodies only, else closes it. */
export async function drain(res: RawResponse): Promise<void> {
  const len = Number(res.headers['content-length'] ?? NaN);
  if (Number.isFinite(len) && len > 1024 * 1024) {
    res.body.destroy();
    return;
  }
  try {
    for await (const _ of res.body) {
      // discard
    }
  } catch {
    // the answer was already read; a broken body does not matter
  }
}

export function header(res: RawResponse, name: string): string | undefined {
  const v = res.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/** The media type of a Content-Type value, without parameters, lower-cased. */
export function contentType(res: RawResponse): string | undefined {
  const v = header(res, 'content-type');
  if (v === undefined) return undefined;
  const mt = v.split(';')[0]?.trim().toLowerCase();
  return mt === '' ? undefined : mt;
}

// ---------------------------------------------------------------------------
// Retry policy

/** HTTP statuses worth retrying: server trouble and rate limits. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 500 || status === 502 || status === 503 || status === 504;
}

/** Exponential backoff with jitter: base·2^attempt (at most 10 s), then a random 50–100 % of it. */
export function backoffDelay(attempt: number, baseMs: number, maxMs = 10_000): number {
  const exp = Math.min(maxMs, baseMs * 2 ** attempt);
  return Math.round(exp / 2 + (Math.random() * exp) / 2);
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  if (Number.isNaN(t)) return undefined;
  return Math.max(0, t - now);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---------------------------------------------------------------------------
// Hosts and TLS

/** The host part of 'host[:port]' ('[::1]:5000' -> '::1'). */
export function hostName(hostPort: string): string {
  if (hostPort.startsWith('[')) {
    const end = hostPort.indexOf(']');
    return end > 0 ? hostPort.slice(1, end) : hostPort;
  }
  const colon = hostPort.lastIndexOf(':');
  return colon > 0 && hostPort.indexOf(':') === colon ? hostPort.slice(0, colon) : hostPort;
}

/** The API host of a registry named in references: Docker Hub's is registry-1.docker.io. */
export function registryApiHost(domain: string): string {
  return domain === 'docker.io' || domain === 'index.docker.io' ? 'registry-1.docker.io' : domain;
}

/** localhost, 127.0.0.0/8 and ::1: a registry on this machine. */
export function isLoopbackHost(hostPort: string): boolean {
  const h = hostName(hostPort).toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return h === '::1' || h === '0:0:0:0:0:0:0:1';
}

export interface TlsOptions {
  caCertificates?: Array<string | Buffer>;
  certsDirs?: string[];
  /** Hosts (host:port) whose certificates are not verified. */
  insecure: ReadonlySet<string>;
  maxSockets: number;
}

export const DEFAULT_CERTS_DIRS = ['/etc/docker/certs.d', '/etc/containers/certs.d'];

/** Docker's certs.d layout for one host: CA certificates and an optional client key pair. */
function certsDirMaterial(dirs: string[], hostPort: string): { ca: Buffer[]; cert?: Buffer; key?: Buffer } {
  const out: { ca: Buffer[]; cert?: Buffer; key?: Buffer } = { ca: [] };
  for (const dir of dirs) {
    const d = join(dir, hostPort);
    let names: string[];
    try {
      names = readdirSync(d).sort();
    } catch {
      continue;
    }
    for (const n of names) {
      try {
        if (n.endsWith('.crt')) out.ca.push(readFileSync(join(d, n)));
        else if (n.endsWith('.cert') && out.cert === undefined) {
          const keyName = `${n.slice(0, -'.cert'.length)}.key`;
          if (names.includes(keyName)) {
            out.cert = readFileSync(join(d, n));
            out.key = readFileSync(join(d, keyName));
          }
        }
      } catch {
        // unreadable file: ignored, as Docker does
      }
    }
  }
  return out;
}

let envExtraCa: Buffer | undefined | null = null;
/** The file NODE_EXTRA_CA_CERTS names (read once): Node adds it to its default roots, so must we. */
function nodeExtraCa(): Buffer | undefined {
  if (envExtraCa === null) {
    const f = process.env['NODE_EXTRA_CA_CERTS'];
    try {
      envExtraCa = f ? readFileSync(f) : undefined;
    } catch {
      envExtraCa = undefined;
    }
  }
  return envExtraCa;
}

/**
 * Keep-alive agents: one for plain HTTP, one per HTTPS host. A host gets its own `ca` list only
 * when it needs more than Node's defaults (Node's bundled roots + NODE_EXTRA_CA_CERTS, which a
 * `ca` option would otherwise replace, so they are put back in).
 */
export class AgentPool {
  private readonly httpAgent: http.Agent;
  private defaultHttps: https.Agent | undefined;
  private readonly perHost = new Map<string, https.Agent>();

  constructor(private readonly opts: TlsOptions) {
    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets: opts.maxSockets });
  }

  agentFor(url: URL): http.Agent {
    if (url.protocol !== 'https:') return this.httpAgent;
    const host = url.host;
    const cached = this.perHost.get(host);
    if (cached) return cached;
    const material = certsDirMaterial(this.opts.certsDirs ?? DEFAULT_CERTS_DIRS, host);
    const extra = [...(this.opts.caCertificates ?? []).map((c) => (typeof c === 'string' ? Buffer.from(c) : c)), ...material.ca];
    const insecure = this.opts.insecure.has(host) || this.opts.insecure.has(hostName(host));
    if (extra.length === 0 && material.cert === undefined && !insecure) {
      this.defaultHttps ??= new https.Agent({ keepAlive: true, maxSockets: this.opts.maxSockets });
      return this.defaultHttps;
    }
    const agentOpts: https.AgentOptions = { keepAlive: true, maxSockets: this.opts.maxSockets };
    if (extra.length > 0) {
      const env = nodeExtraCa();
      agentOpts.ca = [...tls.rootCertificates, ...(env ? [env] : []), ...extra];
    }
    if (material.cert !== undefined && material.key !== undefined) {
      agentOpts.cert = material.cert;
      agentOpts.key = material.key;
    }
    if (insecure) agentOpts.rejectUnauthorized = false;
    const agent = new https.Agent(agentOpts);
    this.perHost.set(host, agent);
    return agent;
  }

  destroy(): void {
    this.httpAgent.destroy();
    this.defaultHttps?.destroy();
    for (const a of this.perHost.values()) a.destroy();
    this.perHost.clear();
  }
}
