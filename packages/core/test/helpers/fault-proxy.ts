/**
 * A fault-injecting HTTP proxy for registry tests: listens on 127.0.0.1 (random port) and forwards
 * every request to one target registry (`http://127.0.0.1:PORT`), except when a fault rule
 * matches. Rules match on method + a regex over the request path (query included) + which
 * occurrence of that match it is (1-based, counted per rule), and then:
 * - `status`: answer with that status (the request body is read first, nothing is forwarded), with
 *   an optional Retry-After, and a registry-style `{"errors":[…]}` body;
 * - `drop-response`: forward, send the status, headers and the first N bytes of the body, then
 *   destroy the connection (a download cut mid-blob);
 * - `drop-request`: forward the first N bytes of the request body, then destroy both the client's
 *   connection and the one to the target (an upload cut mid-body);
 * - `corrupt`: forward, but flip one byte of the response body (same length, same headers);
 * - `stall`: answer nothing, holding the request open until the proxy stops (a registry that hangs).
 * Location headers pointing at the target are rewritten to point at the proxy (the registry
 * answers upload sessions with absolute URLs); requests go to the target with the target's Host.
 * Every request is logged with the body bytes received from the client and sent back to it, so
 * tests can count requests and uploaded bytes per method and path. Only 127.0.0.1 is contacted.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type FaultAction =
  | { kind: 'status'; status: number; retryAfter?: number | string; message?: string }
  | { kind: 'drop-response'; afterBytes: number }
  | { kind: 'drop-request'; afterBytes: number }
  | { kind: 'corrupt'; offset?: number }
  | { kind: 'stall' };

export interface FaultRule {
  /** HTTP method ('PUT') or '*'. */
  method: string;
  /** Tested against the request path with its query ('/v2/app/blobs/uploads/…?digest=…'). */
  path: RegExp;
  /** Which matching requests get the fault (1-based): one, several, or every one. Default 1. */
  nth?: number | number[] | 'every';
  /** Only requests whose Content-Length is at least this match (so a rule can skip small blobs). */
  minBodyBytes?: number;
  action: FaultAction;
}

/** A rule once added: how many requests matched it, and how many got the fault. */
export interface FaultHandle {
  readonly rule: FaultRule;
  readonly matched: number;
  readonly applied: number;
  /** Stop injecting this fault. */
  remove(): void;
}

export interface ProxyRecord {
  method: string;
  /** Path with query, as the client sent it. */
  path: string;
  /** Status sent to the client (0 when the connection was dropped before a response). */
  status: number;
  /** Request body bytes received from the client. */
  requestBytes: number;
  /** Response body bytes sent to the client. */
  responseBytes: number;
  /** The fault applied to this request, if any. */
  fault?: FaultAction['kind'];
}

export interface FaultProxy {
  /** '127.0.0.1:PORT': the registry name to use in image references. */
  host: string;
  port: number;
  url: string;
  /** The target, e.g. 'http://127.0.0.1:5000'. */
  target: string;
  addFault(rule: FaultRule): FaultHandle;
  clearFaults(): void;
  /** Every request so far, in the order they arrived (byte counts grow while a transfer runs). */
  readonly log: readonly ProxyRecord[];
  /** Requests with this method ('*' for any) whose path matches. */
  requests(method: string, path?: RegExp): number;
  /** Request body bytes received for requests with this method ('*' for any) whose path matches. */
  bytesIn(method: string, path?: RegExp): number;
  /** Response body bytes sent for requests with this method ('*' for any) whose path matches. */
  bytesOut(method: string, path?: RegExp): number;
  /** Forget the log (not the rules). */
  resetStats(): void;
  stop(): Promise<void>;
}

interface LiveRule {
  rule: FaultRule;
  matched: number;
  applied: number;
  removed: boolean;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer']);

function selected(nth: FaultRule['nth'], n: number): boolean {
  if (nth === 'every') return true;
  if (Array.isArray(nth)) return nth.includes(n);
  return (nth ?? 1) === n;
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const targetUrl = new URL(target);
  if (targetUrl.protocol !== 'http:' || targetUrl.hostname !== '127.0.0.1') {
    throw new Error(`fault proxy: the target must be http://127.0.0.1:PORT, not ${target}`);
  }
  const rules: LiveRule[] = [];
  let log: ProxyRecord[] = [];
  const sockets = new Set<Socket>();
  const upstreams = new Set<http.ClientRequest>();
  let proxyOrigin = '';

  const pick = (req: http.IncomingMessage): FaultAction | undefined => {
    const length = Number(req.headers['content-length'] ?? 0);
    for (const r of rules) {
      if (r.removed) continue;
      if (r.rule.method !== '*' && r.rule.method.toUpperCase() !== req.method) continue;
      if (!r.rule.path.test(req.url ?? '')) continue;
      if (r.rule.minBodyBytes !== undefined && !(length >= r.rule.minBodyBytes)) continue;
      r.matched++;
      if (selected(r.rule.nth, r.matched)) {
        r.applied++;
        return r.rule.action;
      }
    }
    return undefined;
  };

  const rewriteHeaders = (headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders => {
    const out: http.OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(headers)) {
      if (v === undefined || HOP_BY_HOP.has(k)) continue;
      out[k] = v;
    }
    const loc = headers['location'];
    if (typeof loc === 'string' && loc.startsWith(targetUrl.origin)) out['location'] = proxyOrigin + loc.slice(targetUrl.origin.length);
    return out;
  };

  const server = http.createServer((req, res) => {
    const record: ProxyRecord = { method: req.method ?? '', path: req.url ?? '', status: 0, requestBytes: 0, responseBytes: 0 };
    log.push(record);
    const fault = pick(req);
    if (fault) record.fault = fault.kind;

    if (fault?.kind === 'stall') {
      req.on('data', (c: Buffer) => (record.requestBytes += c.length));
      return;
    }

    if (fault?.kind === 'status') {
      req.on('data', (c: Buffer) => (record.requestBytes += c.length));
      req.on('end', () => {
        const body =
          req.method === 'HEAD'
            ? ''
            : JSON.stringify({ errors: [{ code: 'UNKNOWN', message: fault.message ?? `fault injected by the test proxy (HTTP ${fault.status})` }] });
        const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
        if (fault.retryAfter !== undefined) headers['retry-after'] = String(fault.retryAfter);
        record.status = fault.status;
        record.responseBytes = Buffer.byteLength(body);
        res.writeHead(fault.status, headers);
        res.end(body);
      });
      return;
    }

    const headers: http.OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;
    headers['host'] = targetUrl.host;
    const up = http.request(
      { host: '127.0.0.1', port: Number(targetUrl.port), method: req.method, path: req.url, headers, agent: false },
      (upRes) => {
        const status = upRes.statusCode ?? 502;
        record.status = status;
        res.writeHead(status, rewriteHeaders(upRes.headers));
        const dropAt = fault?.kind === 'drop-response' ? fault.afterBytes : undefined;
        const declared = Number(upRes.headers['content-length'] ?? NaN);
        const corruptAt =
          fault?.kind === 'corrupt' ? (fault.offset ?? (Number.isFinite(declared) && declared > 0 ? Math.floor(declared / 2) : 0)) : undefined;
        let pos = 0;
        upRes.on('data', (chunk: Buffer) => {
          let c = chunk;
          if (corruptAt !== undefined && corruptAt >= pos && corruptAt < pos + c.length) {
            c = Buffer.from(c);
            c[corruptAt - pos] = (c[corruptAt - pos] as number) ^ 0xff;
          }
          if (dropAt !== undefined && pos + c.length >= dropAt) {
            const part = c.subarray(0, Math.max(0, dropAt - pos));
            pos += part.length;
            record.responseBytes += part.length;
            upRes.destroy();
            // Flush what is allowed through, then cut the connection without ending the response.
            res.write(part, () => res.socket?.destroy());
            return;
          }
          pos += c.length;
          record.responseBytes += c.length;
          if (!res.write(c)) {
            upRes.pause();
            res.once('drain', () => upRes.resume());
          }
        });
        upRes.on('end', () => res.end());
        upRes.on('error', () => res.socket?.destroy());
      },
    );
    const cutAt = fault?.kind === 'drop-request' ? fault.afterBytes : undefined;
    let cut = false;
    upstreams.add(up);
    up.on('close', () => upstreams.delete(up));
    up.on('error', () => {
      if (cut) return; // the proxy cut it on purpose: the client's connection is already gone
      if (!res.headersSent) {
        record.status = 502;
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end('fault proxy: the target failed\n');
      } else res.socket?.destroy();
    });
    req.on('data', (chunk: Buffer) => {
      if (cut) return;
      if (cutAt !== undefined && record.requestBytes + chunk.length >= cutAt) {
        const part = chunk.subarray(0, Math.max(0, cutAt - record.requestBytes));
        record.requestBytes += part.length;
        cut = true;
        up.write(part, () => {
          up.destroy();
          req.socket.destroy();
        });
        return;
      }
      record.requestBytes += chunk.length;
      if (!up.write(chunk)) {
        req.pause();
        up.once('drain', () => req.resume());
      }
    });
    req.on('end', () => {
      if (!cut) up.end();
    });
    req.on('error', () => up.destroy());
    res.on('close', () => {
      if (!res.writableFinished) up.destroy();
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
  proxyOrigin = `http://127.0.0.1:${port}`;

  const sum = (method: string, path: RegExp | undefined, f: (r: ProxyRecord) => number): number =>
    log
      .filter((r) => (method === '*' || r.method === method.toUpperCase()) && (!path || path.test(r.path)))
      .reduce((n, r) => n + f(r), 0);

  return {
    host: `127.0.0.1:${port}`,
    port,
    url: proxyOrigin,
    target: targetUrl.origin,
    addFault(rule) {
      const live: LiveRule = { rule, matched: 0, applied: 0, removed: false };
      rules.push(live);
      return {
        rule,
        get matched() {
          return live.matched;
        },
        get applied() {
          return live.applied;
        },
        remove: () => void (live.removed = true),
      };
    },
    clearFaults() {
      for (const r of rules) r.removed = true;
      rules.length = 0;
    },
    get log() {
      return log;
    },
    requests: (method, path) => sum(method, path, () => 1),
    bytesIn: (method, path) => sum(method, path, (r) => r.requestBytes),
    bytesOut: (method, path) => sum(method, path, (r) => r.responseBytes),
    resetStats() {
      log = [];
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const u of upstreams) u.destroy();
        for (const s of sockets) s.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
