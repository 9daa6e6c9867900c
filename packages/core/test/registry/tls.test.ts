// The registry over TLS with a test CA. How the CA reaches the client:
// - in this process, through the client's `caCertificates` option or a Docker-style certs.d
//   directory (`DIR/127.0.0.1:PORT/ca.crt`): node:https agents take a `ca` per registry;
// - through NODE_EXTRA_CA_CERTS, which Node reads only at start-up: a child `node` running the
//   compiled client (dist/) with the variable set, and no option at all.
// Without the CA, the client refuses the registry with a message that says what to do; it never
// falls back to plain HTTP for a server that speaks TLS.

import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { parseReference } from '../../src/reference/reference.js';
import { RegistryClient, RegistryError } from '../../src/registry/index.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { describeNeeding, tools } from '../helpers/requirements.js';
import { buildImage, tempStore } from './images.js';

const execFileAsync = promisify(execFile);
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
const distRegistry = resolve(repoRoot, 'packages/core/dist/registry/index.js');

let reg: TestRegistry;
let digest: string;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  reg = await startRegistry({ tls: true });
  const s = await tempStore();
  cleanups.push(s.cleanup);
  const img = await buildImage(s.store, [{ 'tls.txt': 'over TLS\n' }]);
  digest = img.manifestDigest;
  const c = new RegistryClient({ caCertificates: [reg.caPem!] });
  const res = await c.push(s.store, img.manifestDigest, [parseReference(`${reg.host}/secure/app:1`)]);
  expect(res.uploadedBlobs).toBe(2);
  c.close();
});

afterAll(async () => {
  for (const c of cleanups) await c();
  await reg?.stop();
});

const CHILD = String.raw`
const { RegistryClient } = await import(process.env.KILN_REGISTRY_MODULE);
const c = new RegistryClient({ retries: 0, certsDirs: [] });
try {
  const d = await c.resolveDigest({ domain: process.argv[1], path: 'secure/app', tag: '1' });
  process.stdout.write(JSON.stringify({ digest: d }));
} catch (e) {
  process.stdout.write(JSON.stringify({ error: e.message }));
}
c.close();
`;

async function child(env: Record<string, string>): Promise<{ digest?: string; error?: string }> {
  if (!existsSync(distRegistry) || statSync(distRegistry).mtimeMs < statSync(resolve(repoRoot, 'packages/core/src/registry/index.ts')).mtimeMs) {
    throw new Error(`${distRegistry} is missing or stale: run \`npx tsc -b packages/core\` before these tests`);
  }
  const baseEnv = { ...process.env };
  delete baseEnv['NODE_EXTRA_CA_CERTS'];
  delete baseEnv['NODE_OPTIONS'];
  const { stdout } = await execFileAsync(process.execPath, ['--input-type=module', '-e', CHILD, reg.host], {
    env: { ...baseEnv, KILN_REGISTRY_MODULE: distRegistry, ...env },
    timeout: 30_000,
  });
  return JSON.parse(stdout) as { digest?: string; error?: string };
}

describeNeeding(tools('docker-registry', 'openssl'), 'registry over TLS with a test CA', () => {
  it('pulls with the CA given as an option', async () => {
    const s = await tempStore();
    cleanups.push(s.cleanup);
    const c = new RegistryClient({ caCertificates: [reg.caPem!] });
    const pulled = await c.pull(parseReference(`${reg.host}/secure/app:1`), s.store);
    expect(pulled.manifestDigest).toBe(digest);
    c.close();
  });

  it("finds the CA in a Docker-style certs.d directory (DIR/HOST:PORT/ca.crt)", async () => {
    const s = await tempStore();
    cleanups.push(s.cleanup);
    const certs = join(s.dir, 'certs.d');
    mkdirSync(join(certs, reg.host), { recursive: true });
    writeFileSync(join(certs, reg.host, 'ca.crt'), reg.caPem!);
    const c = new RegistryClient({ certsDirs: [certs] });
    expect(await c.resolveDigest(parseReference(`${reg.host}/secure/app:1`))).toBe(digest);
    c.close();
  });

  it('trusts NODE_EXTRA_CA_CERTS (read at start-up: checked in a child node process)', async () => {
    expect(await child({ NODE_EXTRA_CA_CERTS: reg.caFile! })).toEqual({ digest });
  });

  it('without the CA: a clear error, and no fallback to plain HTTP', async () => {
    const c = new RegistryClient({ retries: 0, certsDirs: [] });
    const err = await c.resolveDigest(parseReference(`${reg.host}/secure/app:1`)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryError);
    const msg = (err as Error).message;
    expect(msg).toContain(`the TLS certificate of ${reg.host} is not trusted`);
    expect(msg).toContain(`/etc/docker/certs.d/${reg.host}/ca.crt or NODE_EXTRA_CA_CERTS`);
    const fromChild = await child({});
    expect(fromChild.error).toContain('is not trusted');
  });

  it('an insecure registry is used without verifying its certificate (as Docker does)', async () => {
    const c = new RegistryClient({ insecureRegistries: [reg.host], certsDirs: [] });
    expect(await c.resolveDigest(parseReference(`${reg.host}/secure/app:1`))).toBe(digest);
    c.close();
  });
});
