// Protocol corners the real registry cannot be made to show on demand, against a small local HTTP
// server that speaks just enough of the distribution API for each case: redirects to blob storage
// (no Authorization forwarded), 503/429 with Retry-After, a connection dropped mid-blob, an upload
// retried from a new POST, HTML answers, oversized manifests, timeouts, and secrets in bodies.

import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from '@jest/globals';
import { MediaTypes } from '../../src/oci/media-types.js';
import { RegistryAuthError, RegistryClient, RegistryError, parseRetryAfter } from '../../src/registry/index.js';
import type { RegistryEvent, RepoRef } from '../../src/registry/index.js';
import { tempStore } from './images.js';

const sha = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

interface Fake {
  host: string;
  requests: { method: string; url: string; authorization?: string }[];
  close(): Promise<void>;
}

const open: Fake[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of open.splice(0)) await f.close();
  for (const c of cleanups.splice(0)) await c();
});

async function fake(handler: (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => void): Promise<Fake> {
  const requests: Fake['requests'] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
      handler(req, res, Buffer.concat(chunks));
    });
  });
  const port = await new Promise<number>((r) => server.listen(0, '127.0.0.1', () => r((server.address() as AddressInfo).port)));
  const f: Fake = {
    host: `127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
  open.push(f);
  return f;
}

function json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const b = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(b.length), ...headers });
  res.end(b);
}

async function store(): Promise<Awaited<ReturnType<typeof tempStore>>['store']> {
  const s = await tempStore();
  cleanups.push(s.cleanup);
  return s.store;
}

const repo = (host: string, path = 'demo/app'): RepoRef => ({ domain: host, path });

describe('redirects to blob storage', () => {
  it('follows the redirect without sending the registry credentials to the other host', async () => {
    const blob = Buffer.from('layer bytes from storage');
    const storage = await fake((_req, res) => {
      res.writeHead(200, { 'content-length': String(blob.length) });
      res.end(blob);
    });
    const registry = await fake((req, res) => {
      if (!req.headers.authorization) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="fake"', 'content-type': 'application/json' });
        res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
        return;
      }
      if (req.url === '/v2/') return json(res, 200, {});
      res.writeHead(307, { location: `http://${storage.host}/bucket/blob?sig=abc` });
      res.end();
    });
    const c = new RegistryClient({ credentials: async () => ({ username: 'u', password: 'p4ssw0rd' }) });
    const s = await store();
    await c.fetchBlobToStore(repo(registry.host), sha(blob), s, blob.length);
    expect((await s.readBlob(sha(blob))).equals(blob)).toBe(true);
    expect(registry.requests.some((r) => r.url.includes('/blobs/') && r.authorization?.startsWith('Basic '))).toBe(true);
    expect(storage.requests).toHaveLength(1);
    expect(storage.requests[0]).toEqual({ method: 'GET', url: '/bucket/blob?sig=abc' });
  });
});

describe('retries', () => {
  it('honours Retry-After on 503 and 429, then succeeds', async () => {
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociManifest, config: { mediaType: MediaTypes.ociConfig, digest: sha('c'), size: 1 }, layers: [] }));
    let n = 0;
    const registry = await fake((req, res) => {
      if (req.url === '/v2/') return json(res, 200, {});
      n++;
      if (n === 1) return json(res, 503, { errors: [{ code: 'UNAVAILABLE', message: 'try later' }] }, { 'retry-after': '1' });
      if (n === 2) return json(res, 429, { errors: [{ code: 'TOOMANYREQUESTS', message: 'slow down' }] }, { 'retry-after': '0' });
      res.writeHead(200, { 'content-type': MediaTypes.ociManifest, 'docker-content-digest': sha(manifest) });
      res.end(manifest);
    });
    const events: RegistryEvent[] = [];
    const c = new RegistryClient({ onEvent: (e) => events.push(e), retryBaseDelayMs: 10 });
    const t0 = Date.now();
    const got = await c.getManifest(repo(registry.host), 'v1');
    expect(got.digest).toBe(sha(manifest));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(950);
    expect(events.filter((e) => e.type === 'retry')).toEqual([
      { type: 'retry', what: `pulling manifest "v1" of ${registry.host}/demo/app`, attempt: 1, delayMs: 1000, reason: 'HTTP 503' },
      { type: 'retry', what: `pulling manifest "v1" of ${registry.host}/demo/app`, attempt: 2, delayMs: 0, reason: 'HTTP 429' },
    ]);
  });

  it('gives up after the retries with the registry status and its error', async () => {
    const registry = await fake((req, res) => {
      if (req.url === '/v2/') return json(res, 200, {});
      json(res, 429, { errors: [{ code: 'TOOMANYREQUESTS', message: 'pull rate limit reached' }] });
    });
    const err = await new RegistryClient({ retries: 2, retryBaseDelayMs: 5 }).getManifest(repo(registry.host), 'v1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect((err as Error).message).toBe(
      `pulling manifest "v1" of ${registry.host}/demo/app failed: the registry keeps answering 429 Too Many Requests ` +
        `(TOOMANYREQUESTS: pull rate limit reached) (3 attempts); it is rate limiting — wait and try again, or log in (kiln login ${registry.host}) for a higher limit`,
    );
    expect(registry.requests.filter((r) => r.url.includes('manifests'))).toHaveLength(3);
  });

  it('a connection dropped in the middle of a blob is retried, and only the full blob is stored', async () => {
    const blob = Buffer.alloc(256 * 1024, 7);
    let n = 0;
    const registry = await fake((req, res) => {
      if (req.url === '/v2/') return json(res, 200, {});
      n++;
      res.writeHead(200, { 'content-length': String(blob.length) });
      if (n === 1) {
        res.write(blob.subarray(0, 1000));
        setTimeout(() => res.socket?.destroy(), 20);
        return;
      }
      res.end(blob);
    });
    const events: RegistryEvent[] = [];
    const s = await store();
    await new RegistryClient({ onEvent: (e) => events.push(e), retryBaseDelayMs: 5 }).fetchBlobToStore(repo(registry.host), sha(blob), s, blob.length);
    expect(n).toBe(2);
    expect((await s.readBlob(sha(blob))).equals(blob)).toBe(true);
    expect(events.find((e) => e.type === 'retry')).toMatchObject({ reason: expect.stringMatching(/ECONNRESET|aborted/) });
  });

  it('a failed upload starts over with a new POST', async () => {
    const s = await store();
    const data = Buffer.from('blob to upload');
    const { digest } = await s.writeBlob(data);
    let puts = 0;
    let uploads = 0;
    const received: Buffer[] = [];
    const registry = await fake((req, res, body) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/v2/') return json(res, 200, {});
      if (req.method === 'HEAD') return json(res, 404, {});
      if (req.method === 'POST') {
        uploads++;
        res.writeHead(202, { location: `/v2/demo/app/blobs/uploads/session-${uploads}?_state=abc%3D%3D`, 'content-length': '0' });
        return res.end();
      }
      if (req.method === 'PUT') {
        puts++;
        expect(url.searchParams.get('_state')).toBe('abc==');
        expect(url.searchParams.get('digest')).toBe(digest);
        if (puts === 1) return json(res, 500, { errors: [{ code: 'UNKNOWN', message: 'storage hiccup' }] });
        received.push(body);
        res.writeHead(201, { 'docker-content-digest': digest, 'content-length': '0' });
        return res.end();
      }
      json(res, 405, {});
    });
    const c = new RegistryClient({ retryBaseDelayMs: 5 });
    expect(await c.uploadBlob(repo(registry.host), s, digest)).toBe('uploaded');
    expect(uploads).toBe(2);
    expect(registry.requests.filter((r) => r.method === 'PUT').map((r) => r.url.split('?')[0])).toEqual([
      '/v2/demo/app/blobs/uploads/session-1',
      '/v2/demo/app/blobs/uploads/session-2',
    ]);
    expect(received).toEqual([data]);
  });

  it('parses Retry-After as seconds or a date', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter(new Date(10_000 + 5000).toUTCString(), 10_000)).toBe(5000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });
});

describe('bad answers', () => {
  it('a server that answers HTML is not taken for a registry', async () => {
    const html = await fake((_req, res) => {
      res.writeHead(404, { 'content-type': 'text/html; charset=utf-8' });
      res.end('<!doctype html><html><body>Not here</body></html>');
    });
    await expect(new RegistryClient().getManifest(repo(html.host), 'v1')).rejects.toThrow(
      `contacting registry ${html.host} failed: http://${html.host}/v2/ answered HTTP 404 with an HTML page; ${html.host} does not look like a container registry`,
    );
    const login = await fake((req, res) => {
      if (req.url === '/v2/') return json(res, 200, {});
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html><form>Sign in</form></html>');
    });
    await expect(new RegistryClient().getManifest(repo(login.host), 'v1')).rejects.toThrow(/answered with an HTML page instead of a manifest/);
  });

  it('refuses a manifest larger than the limit', async () => {
    const registry = await fake((req, res) => {
      if (req.url === '/v2/') return json(res, 200, {});
      const big = Buffer.alloc(5 * 1024 * 1024, 0x20);
      res.writeHead(200, { 'content-type': MediaTypes.ociManifest, 'content-length': String(big.length) });
      res.end(big);
    });
    await expect(new RegistryClient().getManifest(repo(registry.host), 'v1')).rejects.toThrow(
      /the manifest is 5242880 bytes, larger than the 4194304-byte limit/,
    );
  });

  it('a registry that does not answer times out with a clear error', async () => {
    const silent = await fake((req, res) => {
      if (req.url === '/v2/') return json(res, 200, {});
      // never answers
    });
    const t0 = Date.now();
    const err = await new RegistryClient({ timeoutMs: 300, retries: 1, retryBaseDelayMs: 5 }).getManifest(repo(silent.host), 'v1').catch((e: unknown) => e);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect((err as Error).message).toMatch(/cannot reach 127\.0\.0\.1:\d+: ETIMEDOUT \(no answer from .* within 300 ms\) \(2 attempts\)/);
  });

  it('never puts a password or token from a request into an error, even when the registry echoes it', async () => {
    const registry = await fake((req, res) => {
      if (!req.headers.authorization) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="fake"' });
        return res.end();
      }
      if (req.url === '/v2/') return json(res, 200, {});
      const echoed = Buffer.from((req.headers.authorization ?? '').slice(6), 'base64').toString();
      json(res, 400, { errors: [{ code: 'DENIED', message: `bad login ${echoed} / ${req.headers.authorization}` }] });
    });
    const c = new RegistryClient({ credentials: async () => ({ username: 'bob', password: 'hunter2-secret' }) });
    const err = await c.getManifest(repo(registry.host), 'v1').catch((e: unknown) => e);
    const msg = (err as Error).message;
    expect(msg).toContain('HTTP 400');
    expect(msg).not.toContain('hunter2-secret');
    expect(msg).not.toContain(Buffer.from('bob:hunter2-secret').toString('base64'));
    expect(JSON.stringify(err)).not.toContain('hunter2-secret');
    expect(JSON.stringify(err)).not.toContain(Buffer.from('bob:hunter2-secret').toString('base64'));

    const unauthorized = await fake((_req, res) => {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="fake"' });
      res.end();
    });
    const e2 = await new RegistryClient({ credentials: async () => ({ username: 'bob', password: 'hunter2-secret' }) })
      .getManifest(repo(unauthorized.host), 'v1')
      .catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(RegistryAuthError);
    expect((e2 as Error).message).toBe(
      `pulling manifest "v1" of ${unauthorized.host}/demo/app failed: authentication failed: ${unauthorized.host} rejected the credentials; ` +
        `check the username and password or token, then run kiln login ${unauthorized.host}`,
    );
  });
});
