// Authentication end to end against the real registry: htpasswd (Basic) and Docker's token auth
// (a token server from the test helper that signs JWTs the registry verifies), plus the
// WWW-Authenticate parser. Secrets must never show in errors or events.

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parseReference } from '../../src/reference/reference.js';
import type { ImageReference } from '../../src/reference/reference.js';
import { RegistryAuthError, RegistryClient, parseWwwAuthenticate } from '../../src/registry/index.js';
import type { Credentials, RegistryEvent } from '../../src/registry/index.js';
import { skopeoInspect, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { describeNeeding, tools } from '../helpers/requirements.js';
import { buildImage, tempStore } from './images.js';

const PASSWORD = 'secret-pass-123';
const WRONG = 'wrong-Password-987';
const cleanups: (() => Promise<void>)[] = [];

afterAll(async () => {
  for (const c of cleanups) await c();
});

async function store(): Promise<Awaited<ReturnType<typeof tempStore>>['store']> {
  const s = await tempStore();
  cleanups.push(s.cleanup);
  return s.store;
}

function clientWith(host: string, creds: Credentials | undefined, events?: RegistryEvent[]): RegistryClient {
  const lookups: string[] = [];
  return new RegistryClient({
    retryBaseDelayMs: 20,
    credentials: async (h) => {
      lookups.push(h);
      return h === host ? creds : undefined;
    },
    ...(events ? { onEvent: (e) => events.push(e) } : {}),
  });
}

function expectNoSecret(text: string, ...secrets: string[]): void {
  for (const s of secrets) {
    expect(text).not.toContain(s);
    expect(text).not.toContain(Buffer.from(`kiln:${s}`).toString('base64'));
  }
  expect(text).not.toMatch(/Bearer ey|Basic [A-Za-z0-9+/=]{8,}/);
}

describe('WWW-Authenticate', () => {
  it('parses Bearer and Basic challenges, quoted values and several challenges', () => {
    expect(
      parseWwwAuthenticate(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull,push",error="insufficient_scope"',
      ),
    ).toEqual([
      {
        scheme: 'bearer',
        params: {
          realm: 'https://auth.docker.io/token',
          service: 'registry.docker.io',
          scope: 'repository:library/nginx:pull,push',
          error: 'insufficient_scope',
        },
      },
    ]);
    expect(parseWwwAuthenticate('Basic realm="Registry Realm"')).toEqual([{ scheme: 'basic', params: { realm: 'Registry Realm' } }]);
    expect(parseWwwAuthenticate('Basic realm="a \\"b\\"", Bearer realm=https://x/token, service=svc')).toEqual([
      { scheme: 'basic', params: { realm: 'a "b"' } },
      { scheme: 'bearer', params: { realm: 'https://x/token', service: 'svc' } },
    ]);
    expect(parseWwwAuthenticate('Negotiate abc==, Basic realm=x')).toEqual([
      { scheme: 'negotiate', params: {} },
      { scheme: 'basic', params: { realm: 'x' } },
    ]);
    expect(parseWwwAuthenticate('')).toEqual([]);
  });
});

describeNeeding(tools('docker-registry', 'htpasswd', 'skopeo'), 'htpasswd (Basic) auth', () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await startRegistry({ auth: 'htpasswd' });
  });
  afterAll(async () => {
    await reg?.stop();
  });
  const ref = (path: string, tag = 'latest'): ImageReference => parseReference(`${reg.host}/${path}:${tag}`);

  it('pushes and pulls with a username and password; skopeo reads it with --creds', async () => {
    const src = await store();
    const img = await buildImage(src, [{ 'basic.txt': 'basic auth\n' }]);
    const events: RegistryEvent[] = [];
    const c = clientWith(reg.host, { username: 'kiln', password: PASSWORD }, events);
    const res = await c.push(src, img.manifestDigest, [ref('private/app', 'v1')]);
    expect(res.uploadedBlobs).toBe(2);
    const inspected = (await skopeoInspect(`${reg.host}/private/app:v1`, { creds: `kiln:${PASSWORD}` })) as { Digest: string };
    expect(inspected.Digest).toBe(img.manifestDigest);
    const pulled = await clientWith(reg.host, { username: 'kiln', password: PASSWORD }).pull(ref('private/app', 'v1'), await store());
    expect(pulled.manifestDigest).toBe(img.manifestDigest);
    expectNoSecret(JSON.stringify(events), PASSWORD);
  });

  it('a wrong password gives a clear error naming the registry, without the password', async () => {
    const err = await clientWith(reg.host, { username: 'kiln', password: WRONG })
      .pull(ref('private/app', 'v1'), await store())
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryAuthError);
    const msg = (err as Error).message;
    expect(msg).toContain(`authentication failed: ${reg.host} rejected the credentials`);
    expect(msg).toContain(`run kiln login ${reg.host}`);
    expect(msg).toContain('/private/app');
    expectNoSecret(msg + JSON.stringify(err), WRONG, PASSWORD);
  });

  it('no credentials: "authentication required: run kiln login HOST"', async () => {
    const err = await new RegistryClient().resolveDigest(ref('private/app', 'v1')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryAuthError);
    expect((err as Error).message).toMatch(new RegExp(`authentication required.*: run kiln login ${reg.host.replace(/\./g, '\\.')}`));
  });
});

describeNeeding(tools('docker-registry', 'openssl', 'skopeo'), 'token auth (Docker token spec)', () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await startRegistry({ auth: 'token', users: { kiln: PASSWORD, reader: 'reader-pass-456' }, pullOnly: ['reader'] });
  });
  afterAll(async () => {
    await reg?.stop();
  });
  const ref = (path: string, tag = 'latest'): ImageReference => parseReference(`${reg.host}/${path}:${tag}`);
  const tokens = (): number => reg.tokenServer!.requests.length;

  it('pushes and pulls with bearer tokens, reusing a token per scope until it expires', async () => {
    const src = await store();
    const img = await buildImage(src, [{ 'a.txt': 'a\n' }, { 'b.txt': 'b\n' }, { 'c.txt': 'c\n' }]);
    const events: RegistryEvent[] = [];
    const c = clientWith(reg.host, { username: 'kiln', password: PASSWORD }, events);
    const before = tokens();
    const res = await c.push(src, img.manifestDigest, [ref('tok/app', 'v1'), ref('tok/app', 'v2')]);
    expect(res).toMatchObject({ uploadedBlobs: 4, mountedBlobs: 0 });
    // One token for repository:tok/app:pull,push, shared by 4 blobs and 2 manifests.
    expect(tokens() - before).toBe(1);
    expect(c.tokenRequests).toBe(1);
    const rec = reg.tokenServer!.requests.at(-1)!;
    expect(rec).toMatchObject({ method: 'GET', account: 'kiln', scopes: ['repository:tok/app:pull,push'], status: 200 });

    // Again: the cached token is used, no token request.
    await c.push(src, img.manifestDigest, [ref('tok/app', 'v1')]);
    expect(tokens() - before).toBe(1);

    const pulled = await c.pull(ref('tok/app', 'v2'), await store());
    expect(pulled.manifestDigest).toBe(img.manifestDigest);
    expect(tokens() - before).toBe(2); // repository:tok/app:pull
    expect(((await skopeoInspect(`${reg.host}/tok/app:v1`, { creds: `kiln:${PASSWORD}` })) as { Digest: string }).Digest).toBe(img.manifestDigest);
    expectNoSecret(JSON.stringify(events), PASSWORD);

    // Cross-repository mount: the token asks for pull on the source too.
    const m = await c.push(src, img.manifestDigest, [ref('tok/other')], { mountFrom: ['tok/app'] });
    expect(m).toMatchObject({ mountedBlobs: 4, uploadedBlobs: 0 });
    expect(reg.tokenServer!.requests.some((r) => r.scopes.includes('repository:tok/app:pull') && r.scopes.includes('repository:tok/other:pull,push'))).toBe(true);
  });

  it('accepts access_token answers and identity tokens (OAuth2 refresh_token POST)', async () => {
    const src = await store();
    const img = await buildImage(src, [{ 'id.txt': 'identity\n' }]);
    reg.tokenServer!.refreshTokens.set('kiln-refresh-token-abc', 'kiln');
    const c = clientWith(reg.host, { identityToken: 'kiln-refresh-token-abc' });
    await c.push(src, img.manifestDigest, [ref('tok/ident')]);
    const rec = reg.tokenServer!.requests.at(-1)!;
    expect(rec).toMatchObject({ method: 'POST', grantType: 'refresh_token', account: 'kiln', status: 200 });

    const bad = await clientWith(reg.host, { identityToken: 'not-a-known-refresh-token' })
      .resolveDigest(ref('tok/ident'))
      .catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(RegistryAuthError);
    expect((bad as Error).message).toContain(`run kiln login ${reg.host}`);
    expectNoSecret((bad as Error).message, 'not-a-known-refresh-token');
  });

  it('a wrong password: the token service refuses, the error says which registry and how to log in', async () => {
    const err = await clientWith(reg.host, { username: 'kiln', password: WRONG })
      .pull(ref('tok/app', 'v1'), await store())
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryAuthError);
    const msg = (err as Error).message;
    expect(msg).toContain(`authentication failed for ${reg.host}/tok/app: the token service ${reg.tokenServer!.realm} rejected the credentials`);
    expect(msg).toContain(`run kiln login ${reg.host}`);
    expectNoSecret(msg + JSON.stringify(err), WRONG, PASSWORD);
  });

  it('an account that may only pull: pushing is "access denied", pulling works', async () => {
    const src = await store();
    const img = await buildImage(src, [{ 'ro.txt': 'read only\n' }]);
    await clientWith(reg.host, { username: 'kiln', password: PASSWORD }).push(src, img.manifestDigest, [ref('tok/ro')]);
    const reader = clientWith(reg.host, { username: 'reader', password: 'reader-pass-456' });
    expect((await reader.pull(ref('tok/ro'), await store())).manifestDigest).toBe(img.manifestDigest);
    const err = await reader.push(src, img.manifestDigest, [ref('tok/ro', 'v2')]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryAuthError);
    expect((err as Error).message).toMatch(
      /pushing manifest "v2" to .*\/tok\/ro failed: access denied .*: the logged-in account may not push .*\/tok\/ro; check the repository name and your permissions$/,
    );
    expectNoSecret((err as Error).message, 'reader-pass-456');
  });

  it('anonymous users get no access here: "authentication required"', async () => {
    const err = await new RegistryClient({ retryBaseDelayMs: 20 }).pull(ref('tok/app', 'v1'), await store()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryAuthError);
    expect((err as Error).message).toMatch(new RegExp(`authentication required.*run kiln login ${reg.host.replace(/\./g, '\\.')}`));
  });
});

describeNeeding(tools('docker-registry', 'openssl'), 'token auth variants', () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await startRegistry({ auth: 'token', anonymousPull: true, tokenField: 'access_token', tokenLifetime: 60 });
  });
  afterAll(async () => {
    await reg?.stop();
  });

  it('anonymous pull with an access_token answer; a push needs a login', async () => {
    const src = await store();
    const img = await buildImage(src, [{ 'anon.txt': 'anonymous pull\n' }]);
    const r = parseReference(`${reg.host}/pub/app:1`);
    await clientWith(reg.host, { username: 'kiln', password: PASSWORD }).push(src, img.manifestDigest, [r]);
    const anon = new RegistryClient();
    expect((await anon.pull(r, await store())).manifestDigest).toBe(img.manifestDigest);
    expect(reg.tokenServer!.requests.at(-1)).toMatchObject({ account: '', scopes: ['repository:pub/app:pull'] });
    const err = await anon.push(src, img.manifestDigest, [parseReference(`${reg.host}/pub/app:2`)]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryAuthError);
    expect((err as Error).message).toMatch(/pushing manifest "2" to .*pub\/app failed: authentication required.*run kiln login/);
  });
});
