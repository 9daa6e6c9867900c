/**
 * A local GitHub Actions cache service for tests: the protocol @actions/cache 6 speaks on github.com
 * ("cache service v2"), served by node:http on 127.0.0.1 (random port), no dependencies. The
 * unmodified `restoreCache` / `saveCache` work against it end to end, in process or in a child
 * process given `env()`.
 *
 * What @actions/cache 6.3.0 does (read from node_modules/@actions/cache/lib):
 * - Version choice (internal/config.js): v2 when ACTIONS_CACHE_SERVICE_V2 is non-empty and
 *   GITHUB_SERVER_URL is github.com, *.ghe.com, *.localhost or unset; otherwise (GHES) the legacy
 *   v1 REST API at ACTIONS_CACHE_URL + `_apis/artifactcache/…`. GitHub retired v1 on github.com in
 *   2025, so it is not implemented: such requests get a 404 and count as `unhandled` in stats().
 * - v2 control plane (internal/shared/cacheTwirpClient.js, generated/results/api/v1/*): Twirp
 *   JSON. POST <origin of ACTIONS_RESULTS_URL>/twirp/github.actions.results.api.v1.CacheService/<M>
 *   with `Authorization: Bearer $ACTIONS_RUNTIME_TOKEN`, `Content-Type: application/json`, proto
 *   field names in the body and int64 as strings. It calls three methods:
 *     CreateCacheEntry {key, version}                     → {ok, signed_upload_url, message}
 *     FinalizeCacheEntryUpload {key, version, size_bytes} → {ok, entry_id, message}
 *     GetCacheEntryDownloadURL {key, restore_keys, version} → {ok, signed_download_url, matched_key}
 *   Errors are Twirp errors (HTTP status + JSON {"code","msg"}); the client retries 500/502/503/504
 *   (5 attempts, sleeping 3 s, then ×1.5 each time: 25-35 s in all), and fails at once on other
 *   statuses (429 too) and on ECONNRESET/ECONNREFUSED/ETIMEDOUT.
 * - v2 data plane: the signed URLs are Azure Blob SAS URLs. Uploads always use @azure/storage-blob
 *   (internal/uploadUtils.js, BlockBlobClient.uploadFile): one Put Blob up to 128 MiB, otherwise
 *   Put Block (`?comp=block&blockid=…`, 64 MiB blocks, 8 in parallel) and one Put Block List
 *   (`?comp=blocklist`, XML of <Latest> ids). The SDK expects 201 and parses ETag/Last-Modified/
 *   x-ms-* headers; errors are XML <Error><Code/><Message/></Error> with x-ms-error-code; it retries
 *   500/503 and connection errors (4 tries, 0 s, 4 s, 12 s apart).
 * - Downloads (internal/cacheHttpClient.js downloadCache): only for hosts ending in
 *   `.blob.core.windows.net` does restoreCache use the Azure SDK (HEAD = Get Blob Properties, then
 *   Get Blob with `x-ms-range` in 4 MiB pieces per 128 MiB segment, ETag required, If-Match on
 *   retries). For any other host, 127.0.0.1 included, it does one plain GET and compares the file
 *   with Content-Length. This server implements all of it (Range and x-ms-range, 206 +
 *   Content-Range, 416, If-Match), so the SDK path can be driven through the library's internal
 *   downloadUtils.js even though restoreCache itself takes the plain GET here. That GET is retried
 *   once, 5 s later, on 502/503/504 or a connection error; a 500 or a cut body fails at once.
 *
 * github.com semantics modelled: an entry is (key, version); `version` is the client's hash of the
 * paths + compression method, and must match exactly. Lookup: the exact key, then the key as a
 * prefix, then each restore key as a prefix in order; among prefix matches the newest entry wins
 * (GitHub's "Cache key matching" docs). Entries are immutable: CreateCacheEntry for an existing
 * (key, version), whether finalized or still being uploaded, is 409 already_exists "cache entry with
 * the same key, version, and scope already exists" (the real message). Only finalized entries are
 * restorable. A wrong or missing bearer token is 401 unauthenticated. setAccess('read-only') makes
 * CreateCacheEntry answer {ok: false, message: "cache write denied: …"} and setAccess('none') makes
 * GetCacheEntryDownloadURL a 403 "cache read denied: …", the stable prefixes @actions/cache 6 matches.
 * SAS URLs are HMAC-signed, expire after an hour, and carry permissions (upload `cw`, download `r`);
 * a bad signature is 403 AuthenticationFailed.
 * Not modelled: scopes (branches: everything is one scope), eviction and quotas, expiry of abandoned
 * reservations, Put Block List `<Committed>` references (the SDK never sends them), the protobuf
 * content type, and v1.
 *
 * Faults (addFault) for tests that cannot fast-forward timers (a child `node dist/main.js`): a
 * Twirp `reset`, or a non-retried status (400/401/403/404/409/429/412), fails at once; a Twirp 5xx
 * costs 25-35 s per call; a blob-upload 500/503 or reset costs 16 s (a 403 fails at once); a
 * download 500 or `truncate` fails at once, a download 503 or reset costs 5 s.
 *
 * Blobs are streamed to and from files under a temp dir (never held whole in memory). Library code:
 * it never prints.
 */
import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export const CACHE_SERVICE = 'github.actions.results.api.v1.CacheService';
const TWIRP_PREFIX = `/twirp/${CACHE_SERVICE}/`;
export const TWIRP_METHODS = ['CreateCacheEntry', 'FinalizeCacheEntryUpload', 'GetCacheEntryDownloadURL'] as const;
export type TwirpMethod = (typeof TWIRP_METHODS)[number];
export const BLOB_OPERATIONS = ['PutBlob', 'PutBlock', 'PutBlockList', 'GetBlob', 'GetBlobProperties'] as const;
export type BlobOperation = (typeof BLOB_OPERATIONS)[number];
export type Operation = TwirpMethod | BlobOperation;

/** The message github.com returns (HTTP 409) for a key + version that already exists. */
export const ALREADY_EXISTS_MESSAGE = 'cache entry with the same key, version, and scope already exists';
export const WRITE_DENIED_MESSAGE = 'cache write denied: token has no writable scopes';
export const READ_DENIED_MESSAGE = 'cache read denied: token has no readable scopes';

// IP-style blob URLs (http://127.0.0.1:PORT/<account>/<container>/<blob>), like Azurite: the SDK
// parses account and container from the path for IP hosts.
const ACCOUNT = 'devstoreaccount1';
const CONTAINER = 'actions-cache';
const BLOB_PATH_PREFIX = `/${ACCOUNT}/${CONTAINER}/`;
/** x-ms-version that @azure/storage-blob 12.31 sends; echoed when the client sends none. */
const STORAGE_VERSION = '2026-02-06';
const SAS_LIFETIME_MS = 60 * 60 * 1000;
const MAX_SMALL_BODY = 8 * 1024 * 1024;

/** Who the runtime token lets do what (set at any time with setAccess). */
export type CacheAccess = 'read-write' | 'read-only' | 'none';

export type FaultAction =
  /** Answer with this status: a Twirp JSON error on the control plane, an Azure XML error on blobs. */
  | { kind: 'status'; status: number; message?: string; retryAfter?: number }
  /** Close the connection without answering (the client sees ECONNRESET / "socket hang up"). */
  | { kind: 'reset' }
  /** Get Blob only (elsewhere it acts as 'reset'): send the headers and the first N body bytes, then cut. */
  | { kind: 'truncate'; afterBytes: number };

/** Which requests a fault rule matches: one operation, or a group. */
export type FaultTarget = Operation | 'twirp' | 'upload' | 'download' | 'blob' | '*';

export interface FaultRule {
  target: FaultTarget;
  /** Let this many matching requests through before injecting. Default 0. */
  skip?: number;
  /** How many matching requests get the fault. Default 1. */
  times?: number | 'always';
  /** Default: status 500. */
  action?: FaultAction;
}

export interface FaultHandle {
  readonly rule: FaultRule;
  /** Matching requests seen so far (skipped ones included). */
  readonly matched: number;
  /** Requests that got the fault. */
  readonly applied: number;
  remove(): void;
}

export interface CacheEntryInfo {
  id: number;
  key: string;
  version: string;
  /** Bytes of the committed blob (0 until an upload completes; the finalized size after). */
  sizeBytes: number;
  /** When CreateCacheEntry reserved it: "newest" in restore-key matching means this. */
  createdAt: Date;
  /** Set once FinalizeCacheEntryUpload succeeded; only finalized entries can be restored. */
  finalizedAt?: Date;
  finalized: boolean;
  /** The committed blob on disk, if any. */
  file?: string;
}

export interface RequestRecord {
  /** 'unknown' for paths and methods this server does not serve (e.g. the v1 REST API). */
  operation: Operation | 'unknown';
  method: string;
  /** Path without the query (so SAS signatures are not kept). */
  path: string;
  /** Status sent; 0 when the connection was closed before a response. */
  status: number;
  /** True when the whole response was sent. */
  complete: boolean;
  /** Request body bytes received. */
  requestBytes: number;
  /** Response body bytes sent. */
  responseBytes: number;
  /** Range or x-ms-range header of a Get Blob, as sent. */
  range?: string;
  fault?: FaultAction['kind'];
}

export interface CacheServiceStats {
  /** Calls per Twirp method, failed and faulted ones included (so retries show). */
  twirp: Record<TwirpMethod, number>;
  /** Requests per blob operation, failed and faulted ones included. */
  blob: Record<BlobOperation, number>;
  /** Blobs committed: successful Put Blob and Put Block List. */
  uploads: number;
  /** Body bytes stored by successful Put Blob and Put Block. */
  bytesUploaded: number;
  /** Get Blob requests answered completely (200 or 206). */
  downloads: number;
  /** Body bytes sent by Get Blob (partial and faulted responses included). */
  bytesDownloaded: number;
  /** Requests that got an injected fault. */
  faults: number;
  /** Requests to anything this server does not implement. */
  unhandled: number;
}

export interface ActionsCacheService {
  /** 'http://127.0.0.1:PORT' (no trailing slash). */
  url: string;
  /** The ACTIONS_RUNTIME_TOKEN the service accepts. */
  token: string;
  /** Where blobs are stored. */
  dir: string;
  /**
   * The variables a GitHub-hosted runner sets for the cache, pointing at this server: for a child
   * process's env or Object.assign(process.env, …). ACTIONS_CACHE_URL points here too so that a
   * fall back to v1 shows up as `unhandled` instead of reaching for another host;
   * GITHUB_SERVER_URL=https://github.com and ACTIONS_CACHE_MODE=write keep an outer CI job's values
   * (GHES, a read-only mode) from changing what the library does. The library also needs RUNNER_TEMP
   * (else it writes to /home/actions/temp) and GITHUB_WORKSPACE (tar's -C; default cwd): not set here.
   */
  env(): Record<string, string>;
  /** Every entry, oldest first. */
  entries(): CacheEntryInfo[];
  stats(): CacheServiceStats;
  /** Every request so far, in arrival order. */
  readonly log: readonly RequestRecord[];
  addFault(rule: FaultRule): FaultHandle;
  clearFaults(): void;
  setAccess(access: CacheAccess): void;
  /** Stop listening, drop open connections and (unless `dir` was given to start) delete the blobs. */
  close(): Promise<void>;
}

export interface StartOptions {
  /** Default: a random token. */
  token?: string;
  /** Store blobs here instead of a fresh temp dir; it is then left in place by close(). */
  dir?: string;
}

interface EntryState {
  id: number;
  key: string;
  version: string;
  createdAt: Date;
  finalizedAt?: Date;
  blobName: string;
}

interface BlobState {
  file: string;
  size: number;
  etag: string;
  lastModified: Date;
  /** Base64 MD5 of a Put Blob body (Azure keeps none for block-list blobs). */
  md5?: string;
}

interface Block {
  file: string;
  size: number;
}

interface Ctx {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  url: URL;
  rec: RequestRecord;
}

interface FaultState {
  rule: FaultRule;
  matched: number;
  applied: number;
}

type Json = Record<string, unknown>;

const TWIRP_CODES: Record<number, string> = {
  400: 'invalid_argument',
  401: 'unauthenticated',
  403: 'permission_denied',
  404: 'not_found',
  408: 'canceled',
  409: 'already_exists',
  412: 'failed_precondition',
  429: 'resource_exhausted',
  500: 'internal',
  501: 'unimplemented',
  503: 'unavailable',
  504: 'deadline_exceeded',
};

const AZURE_CODES: Record<number, string> = {
  400: 'InvalidInput',
  403: 'AuthenticationFailed',
  404: 'BlobNotFound',
  409: 'BlobAlreadyExists',
  412: 'ConditionNotMet',
  429: 'ServerBusy',
  500: 'InternalError',
  503: 'ServerBusy',
};

function isTwirpMethod(op: string): op is TwirpMethod {
  return (TWIRP_METHODS as readonly string[]).includes(op);
}

function targetMatches(target: FaultTarget, op: Operation): boolean {
  switch (target) {
    case '*':
      return true;
    case 'twirp':
      return isTwirpMethod(op);
    case 'blob':
      return !isTwirpMethod(op);
    case 'upload':
      return op === 'PutBlob' || op === 'PutBlock' || op === 'PutBlockList';
    case 'download':
      return op === 'GetBlob' || op === 'GetBlobProperties';
    default:
      return target === op;
  }
}

/** A Transform that counts (and optionally hashes) what passes through. */
function meter(onChunk: (chunk: Buffer) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      onChunk(chunk);
      callback(null, chunk);
    },
  });
}

async function readBody(ctx: Ctx, limit = MAX_SMALL_BODY): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    ctx.rec.requestBytes += chunk.length;
    if (size > limit) throw new Error(`request body over ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

async function drain(ctx: Ctx): Promise<void> {
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) ctx.rec.requestBytes += chunk.length;
}

function send(ctx: Ctx, status: number, headers: http.OutgoingHttpHeaders, body?: Buffer): void {
  const data = body ?? Buffer.alloc(0);
  ctx.res.writeHead(status, { ...headers, 'content-length': data.length });
  ctx.res.end(data);
  ctx.rec.responseBytes += data.length;
}

function sendJson(ctx: Ctx, status: number, body: Json, headers: http.OutgoingHttpHeaders = {}): void {
  send(ctx, status, { 'content-type': 'application/json', ...headers }, Buffer.from(JSON.stringify(body)));
}

function twirpError(ctx: Ctx, status: number, code: string, msg: string, headers: http.OutgoingHttpHeaders = {}): void {
  sendJson(ctx, status, { code, msg }, headers);
}

function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function xmlUnescape(s: string): string {
  return s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
}

/** Headers Azure Blob Storage puts on every response. */
function azureHeaders(ctx: Ctx): http.OutgoingHttpHeaders {
  const headers: http.OutgoingHttpHeaders = {
    server: 'Windows-Azure-Blob/1.0 Microsoft-HTTPAPI/2.0',
    'x-ms-request-id': randomUUID(),
    'x-ms-version': (ctx.req.headers['x-ms-version'] as string | undefined) ?? STORAGE_VERSION,
  };
  const clientRequestId = ctx.req.headers['x-ms-client-request-id'];
  if (typeof clientRequestId === 'string') headers['x-ms-client-request-id'] = clientRequestId;
  return headers;
}

function azureError(ctx: Ctx, status: number, code: string, message: string, headers: http.OutgoingHttpHeaders = {}): void {
  const requestId = randomUUID();
  const all = { ...azureHeaders(ctx), 'x-ms-request-id': requestId, 'x-ms-error-code': code, ...headers };
  if (ctx.req.method === 'HEAD') {
    // HEAD has no body: the SDK reads the error from x-ms-error-code.
    ctx.res.writeHead(status, all);
    ctx.res.end();
    return;
  }
  const detail = `${message}\nRequestId:${requestId}\nTime:${new Date().toISOString()}`;
  const xml = `<?xml version="1.0" encoding="utf-8"?><Error><Code>${xmlEscape(code)}</Code><Message>${xmlEscape(detail)}</Message></Error>`;
  send(ctx, status, { ...all, 'content-type': 'application/xml' }, Buffer.from(xml));
}

function contentLength(req: http.IncomingMessage): number | undefined {
  const value = req.headers['content-length'];
  if (value === undefined || !/^\d+$/.test(value)) return undefined;
  return Number(value);
}

/** `bytes=START-[END]` → inclusive [start, end] clamped to the blob, or 'invalid'. */
function parseRange(header: string, size: number): { start: number; end: number } | 'invalid' {
  const m = /^bytes=(\d+)-(\d*)$/.exec(header.trim());
  if (!m) return 'invalid';
  const start = Number(m[1]);
  const end = m[2] ? Math.min(Number(m[2]), size - 1) : size - 1;
  if (start >= size || end < start) return 'invalid';
  return { start, end };
}

function newEtag(): string {
  return `"0x${(Date.now() * 10000 + Math.floor(Math.random() * 10000)).toString(16).toUpperCase()}"`;
}

/** Starts the service on 127.0.0.1 (random port). */
export async function startActionsCacheService(options: StartOptions = {}): Promise<ActionsCacheService> {
  const token = options.token ?? `kiln-test-${randomBytes(16).toString('hex')}`;
  const ownsDir = options.dir === undefined;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'kiln-actions-cache-')));
  await mkdir(join(dir, 'blobs'), { recursive: true });
  await mkdir(join(dir, 'blocks'), { recursive: true });
  await mkdir(join(dir, 'tmp'), { recursive: true });

  const sasKey = randomBytes(32);
  const entries: EntryState[] = [];
  const blobs = new Map<string, BlobState>();
  const uncommitted = new Map<string, Map<string, Block>>();
  const log: RequestRecord[] = [];
  let faults: FaultState[] = [];
  let access: CacheAccess = 'read-write';
  let nextId = 1;
  let baseUrl = '';

  const entryByBlob = (blobName: string): EntryState | undefined => entries.find((e) => e.blobName === blobName);
  const tmpFile = (): string => join(dir, 'tmp', randomUUID());

  function sign(blobName: string, permissions: string, expiry: string): string {
    return createHmac('sha256', sasKey).update(`${permissions}\n${expiry}\n${BLOB_PATH_PREFIX}${blobName}`).digest('base64');
  }

  function sasUrl(blobName: string, permissions: string): string {
    const expiry = new Date(Date.now() + SAS_LIFETIME_MS).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const query = new URLSearchParams({ sv: STORAGE_VERSION, sr: 'b', sp: permissions, se: expiry, sig: sign(blobName, permissions, expiry) });
    return `${baseUrl}${BLOB_PATH_PREFIX}${blobName}?${query.toString()}`;
  }

  /** Azure's answer to a SAS that does not allow this request, or undefined when it does. */
  function sasDenial(url: URL, blobName: string, needed: 'r' | 'w'): { code: string; message: string } | undefined {
    const sp = url.searchParams.get('sp');
    const se = url.searchParams.get('se');
    const sig = url.searchParams.get('sig');
    const failed = {
      code: 'AuthenticationFailed',
      message: 'Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.',
    };
    if (!sp || !se || !sig) return failed;
    const expected = Buffer.from(sign(blobName, sp, se));
    const given = Buffer.from(sig);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return failed;
    if (!(Date.parse(se) > Date.now())) return { ...failed, message: `Signed expiry time [${se}] has to be after current time.` };
    if (!sp.includes(needed)) {
      return { code: 'AuthorizationPermissionMismatch', message: 'This request is not authorized to perform this operation using this permission.' };
    }
    return undefined;
  }

  function takeFault(op: Operation): FaultAction | undefined {
    for (const f of faults) {
      if (!targetMatches(f.rule.target, op)) continue;
      f.matched++;
      if (f.matched <= (f.rule.skip ?? 0)) continue;
      const times = f.rule.times ?? 1;
      if (times !== 'always' && f.applied >= times) continue;
      f.applied++;
      return f.rule.action ?? { kind: 'status', status: 500 };
    }
    return undefined;
  }

  // ---- Twirp control plane ------------------------------------------------------------------

  function lookup(key: string, restoreKeys: string[], version: string): EntryState | undefined {
    const candidates = entries.filter((e) => e.finalizedAt && e.version === version);
    const exact = candidates.find((e) => e.key === key);
    if (exact) return exact;
    for (const prefix of [key, ...restoreKeys]) {
      // Entries are kept in creation order: the last prefix match is the newest.
      const matches = candidates.filter((e) => e.key.startsWith(prefix));
      const newest = matches[matches.length - 1];
      if (newest) return newest;
    }
    return undefined;
  }

  function createCacheEntry(ctx: Ctx, body: Json): void {
    const key = typeof body.key === 'string' ? body.key : '';
    const version = typeof body.version === 'string' ? body.version : '';
    if (!key || !version) return twirpError(ctx, 400, 'invalid_argument', `${key ? 'version' : 'key'} is required`);
    if (access !== 'read-write') return sendJson(ctx, 200, { ok: false, signed_upload_url: '', message: WRITE_DENIED_MESSAGE });
    if (entries.some((e) => e.key === key && e.version === version)) {
      return twirpError(ctx, 409, 'already_exists', ALREADY_EXISTS_MESSAGE);
    }
    const id = nextId++;
    const entry: EntryState = { id, key, version, createdAt: new Date(), blobName: `entry-${id}-${randomBytes(6).toString('hex')}` };
    entries.push(entry);
    sendJson(ctx, 200, { ok: true, signed_upload_url: sasUrl(entry.blobName, 'cw'), message: '' });
  }

  function finalizeCacheEntryUpload(ctx: Ctx, body: Json): void {
    const key = typeof body.key === 'string' ? body.key : '';
    const version = typeof body.version === 'string' ? body.version : '';
    const rawSize = body.size_bytes ?? body.sizeBytes;
    const size = typeof rawSize === 'string' || typeof rawSize === 'number' ? Number(rawSize) : NaN;
    if (!key || !version) return twirpError(ctx, 400, 'invalid_argument', `${key ? 'version' : 'key'} is required`);
    if (!Number.isSafeInteger(size) || size < 0) return twirpError(ctx, 400, 'invalid_argument', 'size_bytes must be a non-negative integer');
    if (access !== 'read-write') return sendJson(ctx, 200, { ok: false, entry_id: '0', message: WRITE_DENIED_MESSAGE });
    const entry = entries.find((e) => e.key === key && e.version === version);
    if (!entry) return twirpError(ctx, 404, 'not_found', 'cache entry not found');
    if (entry.finalizedAt) return twirpError(ctx, 409, 'already_exists', ALREADY_EXISTS_MESSAGE);
    const blob = blobs.get(entry.blobName);
    if (!blob) return twirpError(ctx, 412, 'failed_precondition', 'no blob has been uploaded for this cache entry');
    if (blob.size !== size) {
      return twirpError(ctx, 412, 'failed_precondition', `size_bytes ${size} does not match the uploaded blob (${blob.size} bytes)`);
    }
    entry.finalizedAt = new Date();
    sendJson(ctx, 200, { ok: true, entry_id: String(entry.id), message: '' });
  }

  function getCacheEntryDownloadUrl(ctx: Ctx, body: Json): void {
    const key = typeof body.key === 'string' ? body.key : '';
    const version = typeof body.version === 'string' ? body.version : '';
    const raw = body.restore_keys ?? body.restoreKeys ?? [];
    const restoreKeys = Array.isArray(raw) ? raw.filter((k): k is string => typeof k === 'string') : [];
    if (!key || !version) return twirpError(ctx, 400, 'invalid_argument', `${key ? 'version' : 'key'} is required`);
    if (access === 'none') return twirpError(ctx, 403, 'permission_denied', READ_DENIED_MESSAGE);
    const entry = lookup(key, restoreKeys, version);
    if (!entry) return sendJson(ctx, 200, { ok: false, signed_download_url: '', matched_key: '' });
    sendJson(ctx, 200, { ok: true, signed_download_url: sasUrl(entry.blobName, 'r'), matched_key: entry.key });
  }

  async function handleTwirp(ctx: Ctx): Promise<void> {
    const { req, url } = ctx;
    const method = url.pathname.startsWith(TWIRP_PREFIX) ? url.pathname.slice(TWIRP_PREFIX.length) : '';
    const body = await readBody(ctx);
    if (!isTwirpMethod(method)) return twirpError(ctx, 404, 'bad_route', `no handler for path "${url.pathname}"`);
    ctx.rec.operation = method;
    const fault = takeFault(method);
    if (fault) return applyFault(ctx, fault, 'twirp');
    if (req.method !== 'POST') return twirpError(ctx, 404, 'bad_route', `unsupported method ${req.method} (only POST is allowed)`);
    const contentType = (req.headers['content-type'] ?? '').split(';')[0]?.trim();
    if (contentType !== 'application/json') {
      // This server speaks Twirp's JSON encoding only (all @actions/cache sends).
      return twirpError(ctx, 404, 'bad_route', `unexpected Content-Type: "${contentType}"`);
    }
    if (req.headers.authorization !== `Bearer ${token}`) {
      return twirpError(ctx, 401, 'unauthenticated', 'invalid or missing bearer token');
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8') || '{}');
    } catch {
      return twirpError(ctx, 400, 'malformed', 'the request body is not valid JSON');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      return twirpError(ctx, 400, 'malformed', 'the request body is not a JSON object');
    }
    const json = parsed as Json;
    switch (method) {
      case 'CreateCacheEntry':
        return createCacheEntry(ctx, json);
      case 'FinalizeCacheEntryUpload':
        return finalizeCacheEntryUpload(ctx, json);
      case 'GetCacheEntryDownloadURL':
        return getCacheEntryDownloadUrl(ctx, json);
    }
  }

  // ---- Azure Blob data plane ----------------------------------------------------------------

  /** Streams the request body to `file`; returns its size and base64 MD5. */
  async function receive(ctx: Ctx, file: string): Promise<{ size: number; md5: string }> {
    const md5 = createHash('md5');
    let size = 0;
    const counter = meter((chunk) => {
      size += chunk.length;
      ctx.rec.requestBytes += chunk.length;
      md5.update(chunk);
    });
    try {
      await pipeline(ctx.req, counter, createWriteStream(file));
    } catch (err) {
      await rm(file, { force: true });
      throw err;
    }
    return { size, md5: md5.digest('base64') };
  }

  /** Receives a Put Blob / Put Block body into a temp file, checking Content-Length and Content-MD5. */
  async function receiveChecked(ctx: Ctx): Promise<{ file: string; size: number; md5: string } | undefined> {
    const expected = contentLength(ctx.req);
    if (expected === undefined) {
      await drain(ctx);
      azureError(ctx, 411, 'MissingContentLengthHeader', 'Content-Length HTTP header is missing.');
      return undefined;
    }
    const file = tmpFile();
    const got = await receive(ctx, file);
    const sentMd5 = ctx.req.headers['content-md5'];
    if (got.size !== expected || (typeof sentMd5 === 'string' && sentMd5 !== got.md5)) {
      await rm(file, { force: true });
      if (got.size !== expected) azureError(ctx, 400, 'InvalidInput', `Received ${got.size} body bytes, Content-Length says ${expected}.`);
      else azureError(ctx, 400, 'Md5Mismatch', 'The MD5 value specified in the request did not match with the MD5 value calculated by the server.');
      return undefined;
    }
    return { file, ...got };
  }

  async function discardBlocks(blobName: string): Promise<void> {
    uncommitted.delete(blobName);
    await rm(join(dir, 'blocks', blobName), { recursive: true, force: true });
  }

  async function commit(blobName: string, file: string, size: number, md5?: string): Promise<BlobState> {
    const blob: BlobState = { file: join(dir, 'blobs', blobName), size, etag: newEtag(), lastModified: new Date(), md5 };
    await rename(file, blob.file);
    blobs.set(blobName, blob);
    await discardBlocks(blobName);
    return blob;
  }

  function writeHeaders(ctx: Ctx, blob: BlobState): http.OutgoingHttpHeaders {
    return {
      ...azureHeaders(ctx),
      etag: blob.etag,
      'last-modified': blob.lastModified.toUTCString(),
      'x-ms-request-server-encrypted': 'true',
    };
  }

  /** The pending entry a write may go to; answers the request itself when there is none. */
  async function writableEntry(ctx: Ctx, blobName: string): Promise<EntryState | undefined> {
    const entry = entryByBlob(blobName);
    if (entry && !entry.finalizedAt) return entry;
    await drain(ctx);
    // Finalized entries are immutable (the real service's blobs are never rewritten either).
    if (entry) azureError(ctx, 409, 'BlobImmutableDueToPolicy', 'This operation is not permitted as the blob is immutable due to a policy.');
    else azureError(ctx, 404, 'ContainerNotFound', 'The specified container does not exist.');
    return undefined;
  }

  async function putBlob(ctx: Ctx, blobName: string): Promise<void> {
    if (!(await writableEntry(ctx, blobName))) return;
    const blobType = ctx.req.headers['x-ms-blob-type'];
    if (blobType !== 'BlockBlob') {
      await drain(ctx);
      return azureError(ctx, 400, blobType ? 'InvalidHeaderValue' : 'MissingRequiredHeader', 'x-ms-blob-type must be BlockBlob.');
    }
    const got = await receiveChecked(ctx);
    if (!got) return;
    const blob = await commit(blobName, got.file, got.size, got.md5);
    send(ctx, 201, { ...writeHeaders(ctx, blob), 'content-md5': got.md5 });
  }

  async function putBlock(ctx: Ctx, blobName: string): Promise<void> {
    if (!(await writableEntry(ctx, blobName))) return;
    const blockId = ctx.url.searchParams.get('blockid') ?? '';
    // Block IDs are base64 of at most 64 bytes.
    if (!blockId || !/^[A-Za-z0-9+/]+={0,2}$/.test(blockId) || Buffer.from(blockId, 'base64').length > 64) {
      await drain(ctx);
      const message = `Value for one of the query parameters specified in the request URI is invalid: blockid=${blockId}`;
      return azureError(ctx, 400, 'InvalidQueryParameterValue', message);
    }
    const got = await receiveChecked(ctx);
    if (!got) return;
    const blockDir = join(dir, 'blocks', blobName);
    await mkdir(blockDir, { recursive: true });
    const file = join(blockDir, createHash('sha256').update(blockId).digest('hex'));
    await rename(got.file, file);
    let blocks = uncommitted.get(blobName);
    if (!blocks) uncommitted.set(blobName, (blocks = new Map()));
    blocks.set(blockId, { file, size: got.size });
    send(ctx, 201, { ...azureHeaders(ctx), 'content-md5': got.md5, 'x-ms-request-server-encrypted': 'true' });
  }

  async function putBlockList(ctx: Ctx, blobName: string): Promise<void> {
    if (!(await writableEntry(ctx, blobName))) return;
    const xml = (await readBody(ctx)).toString('utf8');
    if (!/<BlockList\b[^>]*>[\s\S]*<\/BlockList>|<BlockList\b[^>]*\/>/.test(xml)) {
      return azureError(ctx, 400, 'InvalidXmlDocument', 'XML specified is not syntactically valid.');
    }
    const blocks = uncommitted.get(blobName) ?? new Map<string, Block>();
    const chosen: Block[] = [];
    for (const m of xml.matchAll(/<(Latest|Uncommitted|Committed)>([^<]*)<\/\1>/g)) {
      const block = m[1] === 'Committed' ? undefined : blocks.get(xmlUnescape(m[2] ?? '').trim());
      if (!block) return azureError(ctx, 400, 'InvalidBlockList', 'The specified block list is invalid.');
      chosen.push(block);
    }
    const file = tmpFile();
    let size = 0;
    try {
      if (chosen.length === 0) await writeFile(file, '');
      for (const [i, block] of chosen.entries()) {
        await pipeline(createReadStream(block.file), createWriteStream(file, { flags: i === 0 ? 'w' : 'a' }));
        size += block.size;
      }
    } catch (err) {
      await rm(file, { force: true });
      throw err;
    }
    const blob = await commit(blobName, file, size);
    send(ctx, 201, writeHeaders(ctx, blob));
  }

  async function getBlob(ctx: Ctx, blobName: string, truncateAfter?: number): Promise<void> {
    const { req, res } = ctx;
    const blob = blobs.get(blobName);
    if (!blob) return azureError(ctx, 404, 'BlobNotFound', 'The specified blob does not exist.');
    const ifMatch = req.headers['if-match'];
    if (ifMatch && ifMatch !== '*' && ifMatch !== blob.etag) {
      return azureError(ctx, 412, 'ConditionNotMet', 'The condition specified using HTTP conditional header(s) is not met.');
    }
    const headers: http.OutgoingHttpHeaders = {
      ...azureHeaders(ctx),
      'content-type': 'application/octet-stream',
      etag: blob.etag,
      'last-modified': blob.lastModified.toUTCString(),
      'accept-ranges': 'bytes',
      'x-ms-blob-type': 'BlockBlob',
      'x-ms-creation-time': blob.lastModified.toUTCString(),
      'x-ms-lease-state': 'available',
      'x-ms-lease-status': 'unlocked',
      'x-ms-server-encrypted': 'true',
    };
    if (req.method === 'HEAD') {
      if (blob.md5) headers['content-md5'] = blob.md5;
      res.writeHead(200, { ...headers, 'content-length': blob.size });
      res.end();
      return;
    }
    const rangeHeader = (req.headers['x-ms-range'] as string | undefined) ?? req.headers.range;
    let start = 0;
    let end = blob.size - 1;
    let status = 200;
    if (rangeHeader) {
      ctx.rec.range = rangeHeader;
      const range = parseRange(rangeHeader, blob.size);
      if (range === 'invalid') {
        return azureError(ctx, 416, 'InvalidRange', 'The range specified is invalid for the current size of the resource.', {
          'content-range': `bytes */${blob.size}`,
        });
      }
      ({ start, end } = range);
      status = 206;
      headers['content-range'] = `bytes ${start}-${end}/${blob.size}`;
      if (blob.md5) headers['x-ms-blob-content-md5'] = blob.md5;
    } else if (blob.md5) {
      headers['content-md5'] = blob.md5;
    }
    const length = end - start + 1;
    res.writeHead(status, { ...headers, 'content-length': length });
    if (length === 0) {
      res.end();
      return;
    }
    const counter = meter((chunk) => {
      ctx.rec.responseBytes += chunk.length;
    });
    if (truncateAfter === undefined) {
      await pipeline(createReadStream(blob.file, { start, end }), counter, res);
      return;
    }
    // Promise the whole range, send part of it, then close the connection once that part is
    // flushed: the client sees a body shorter than Content-Length.
    const sendUpTo = Math.min(truncateAfter, length);
    if (sendUpTo > 0) {
      await pipeline(createReadStream(blob.file, { start, end: start + sendUpTo - 1 }), counter, async (chunks: AsyncIterable<Buffer>) => {
        for await (const chunk of chunks) {
          await new Promise<void>((resolve, reject) => res.write(chunk, (err) => (err ? reject(err) : resolve())));
        }
      });
    } else {
      res.flushHeaders();
    }
    const socket = req.socket;
    socket.end(() => socket.destroy());
  }

  async function handleBlob(ctx: Ctx, blobName: string): Promise<void> {
    const { req, url } = ctx;
    const comp = url.searchParams.get('comp');
    let op: BlobOperation | undefined;
    if (req.method === 'PUT') op = comp === null ? 'PutBlob' : comp === 'block' ? 'PutBlock' : comp === 'blocklist' ? 'PutBlockList' : undefined;
    else if (req.method === 'GET' && comp === null) op = 'GetBlob';
    else if (req.method === 'HEAD' && comp === null) op = 'GetBlobProperties';
    if (!op) {
      await drain(ctx);
      if (req.method === 'PUT' || req.method === 'GET' || req.method === 'HEAD') {
        return azureError(ctx, 400, 'UnsupportedQueryParameter', `comp=${comp} is not supported by this server.`);
      }
      return azureError(ctx, 405, 'UnsupportedHttpVerb', 'The resource doesn\'t support specified Http Verb.');
    }
    ctx.rec.operation = op;
    const fault = takeFault(op);
    if (fault?.kind === 'truncate' && op === 'GetBlob') {
      ctx.rec.fault = 'truncate';
    } else if (fault) {
      // Read the body first (except for a reset): a client still writing would see EPIPE instead.
      if (fault.kind === 'status') await drain(ctx);
      return applyFault(ctx, fault, 'blob');
    }
    const denied = sasDenial(url, blobName, op.startsWith('Put') ? 'w' : 'r');
    if (denied) {
      await drain(ctx);
      return azureError(ctx, 403, denied.code, denied.message);
    }
    switch (op) {
      case 'PutBlob':
        return putBlob(ctx, blobName);
      case 'PutBlock':
        return putBlock(ctx, blobName);
      case 'PutBlockList':
        return putBlockList(ctx, blobName);
      case 'GetBlob':
      case 'GetBlobProperties':
        return getBlob(ctx, blobName, fault?.kind === 'truncate' ? fault.afterBytes : undefined);
    }
  }

  function applyFault(ctx: Ctx, fault: FaultAction, plane: 'twirp' | 'blob'): void {
    ctx.rec.fault = fault.kind;
    if (fault.kind !== 'status') {
      ctx.req.socket.destroy();
      return;
    }
    const headers: http.OutgoingHttpHeaders = fault.retryAfter === undefined ? {} : { 'retry-after': String(fault.retryAfter) };
    const message = fault.message ?? `injected fault (HTTP ${fault.status})`;
    if (plane === 'twirp') twirpError(ctx, fault.status, TWIRP_CODES[fault.status] ?? 'unknown', message, headers);
    else azureError(ctx, fault.status, AZURE_CODES[fault.status] ?? 'InternalError', message, headers);
  }

  async function handle(ctx: Ctx): Promise<void> {
    const path = ctx.url.pathname;
    if (path.startsWith('/twirp/')) return handleTwirp(ctx);
    if (path.startsWith(BLOB_PATH_PREFIX) && path.length > BLOB_PATH_PREFIX.length) {
      return handleBlob(ctx, decodeURIComponent(path.slice(BLOB_PATH_PREFIX.length)));
    }
    await drain(ctx);
    sendJson(ctx, 404, { message: `not served by this test cache service: ${ctx.req.method} ${path}` });
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const rec: RequestRecord = {
      operation: 'unknown',
      method: req.method ?? '',
      path: url.pathname,
      status: 0,
      complete: false,
      requestBytes: 0,
      responseBytes: 0,
    };
    log.push(rec);
    res.on('close', () => {
      rec.status = res.headersSent ? res.statusCode : 0;
      rec.complete = res.writableFinished;
    });
    const ctx: Ctx = { req, res, url, rec };
    handle(ctx).catch((err: unknown) => {
      // A client that went away mid-body, or a disk error: answer if still possible, else cut.
      if (!res.headersSent && !req.socket.destroyed) {
        const message = err instanceof Error ? err.message : String(err);
        if (url.pathname.startsWith('/twirp/')) twirpError(ctx, 500, 'internal', message);
        else azureError(ctx, 500, 'InternalError', message);
      } else {
        res.destroy();
      }
    });
  });
  server.on('clientError', (_err, socket) => socket.destroy());

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  baseUrl = `http://127.0.0.1:${port}`;

  return {
    url: baseUrl,
    token,
    dir,
    env: () => ({
      ACTIONS_CACHE_SERVICE_V2: 'True',
      ACTIONS_RESULTS_URL: `${baseUrl}/`,
      ACTIONS_CACHE_URL: `${baseUrl}/`,
      ACTIONS_RUNTIME_TOKEN: token,
      ACTIONS_CACHE_MODE: 'write',
      GITHUB_SERVER_URL: 'https://github.com',
    }),
    entries: () =>
      entries.map((e) => {
        const blob = blobs.get(e.blobName);
        return {
          id: e.id,
          key: e.key,
          version: e.version,
          sizeBytes: blob?.size ?? 0,
          createdAt: e.createdAt,
          finalizedAt: e.finalizedAt,
          finalized: e.finalizedAt !== undefined,
          file: blob?.file,
        };
      }),
    stats: () => {
      const twirp = Object.fromEntries(TWIRP_METHODS.map((m) => [m, 0])) as Record<TwirpMethod, number>;
      const blob = Object.fromEntries(BLOB_OPERATIONS.map((m) => [m, 0])) as Record<BlobOperation, number>;
      const stats: CacheServiceStats = { twirp, blob, uploads: 0, bytesUploaded: 0, downloads: 0, bytesDownloaded: 0, faults: 0, unhandled: 0 };
      for (const r of log) {
        if (r.fault) stats.faults++;
        if (r.operation === 'unknown') {
          stats.unhandled++;
          continue;
        }
        if (isTwirpMethod(r.operation)) twirp[r.operation]++;
        else blob[r.operation]++;
        const ok = r.status >= 200 && r.status < 300 && r.complete && !r.fault;
        if (ok && (r.operation === 'PutBlob' || r.operation === 'PutBlock')) stats.bytesUploaded += r.requestBytes;
        if (ok && (r.operation === 'PutBlob' || r.operation === 'PutBlockList')) stats.uploads++;
        if (r.operation === 'GetBlob') {
          stats.bytesDownloaded += r.responseBytes;
          if (ok) stats.downloads++;
        }
      }
      return stats;
    },
    log,
    addFault(rule) {
      const state: FaultState = { rule, matched: 0, applied: 0 };
      faults.push(state);
      return {
        rule,
        get matched() {
          return state.matched;
        },
        get applied() {
          return state.applied;
        },
        remove: () => {
          faults = faults.filter((f) => f !== state);
        },
      };
    },
    clearFaults() {
      faults = [];
    },
    setAccess(value) {
      access = value;
    },
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      if (ownsDir) await rm(dir, { recursive: true, force: true });
    },
  };
}
