// Docker's config.json credentials and docker-credential-* helpers, against real files and a real
// helper program (a sh script speaking the docker-credential-helpers protocol), plus kiln login/logout.
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { KilnError } from '../../src/errors.js';
import {
  credentialKey,
  dockerConfigDir,
  getCredentials,
  removeCredentials,
  storeCredentials,
} from '../../src/registry/credentials.js';
import { loginCommand, logoutCommand } from '../../src/cli/login.js';
import { UsageError } from '../../src/cli/usage.js';
import type { CliIo } from '../../src/cli/main.js';

const root = mkdtempSync(join(tmpdir(), 'kiln-creds-'));
let counter = 0;
const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

/** A fresh DOCKER_CONFIG dir (with config.json when given) and a fresh helper store. */
function setup(config?: unknown): { dir: string; file: string; env: NodeJS.ProcessEnv; helperStore: string } {
  const n = ++counter;
  const dir = join(root, `cfg-${n}`);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'config.json');
  if (config !== undefined) writeFileSync(file, typeof config === 'string' ? config : JSON.stringify(config, null, 2));
  const helperStore = join(root, `helper-store-${n}`);
  const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_CONFIG: dir, PATH: `${binDir}:${process.env.PATH ?? ''}`, KILNTEST_STORE: helperStore };
  delete env.DOCKER_AUTH_CONFIG;
  return { dir, file, env, helperStore };
}

// A credential helper in sh: one file per server URL in $KILNTEST_STORE, every call logged.
const binDir = join(root, 'bin');
const HELPER = `#!/bin/sh
store="\${KILNTEST_STORE:?}"
mkdir -p "$store"
name=$(basename "$0")
input=$(cat)
case "$1" in
  get|erase) url="$input" ;;
  store) url=$(printf '%s' "$input" | sed 's/.*"ServerURL":"\\([^"]*\\)".*/\\1/') ;;
  *) echo "unknown action $1"; exit 2 ;;
esac
echo "$name $1 $url" >> "$store/calls"
f="$store/$(printf '%s' "$url" | tr -c 'A-Za-z0-9.' '_')"
case "$1" in
  get) if [ -f "$f" ]; then cat "$f"; else echo "credentials not found in native keychain"; exit 1; fi ;;
  store) printf '%s' "$input" > "$f" ;;
  erase) if [ -f "$f" ]; then rm "$f"; else echo "credentials not found in native keychain"; exit 1; fi ;;
esac
`;
mkdirSync(binDir, { recursive: true });
for (const name of ['kilntest', 'kilnother']) {
  writeFileSync(join(binDir, `docker-credential-${name}`), HELPER);
  chmodSync(join(binDir, `docker-credential-${name}`), 0o755);
}
writeFileSync(join(binDir, 'docker-credential-kilnbroken'), '#!/bin/sh\ncat >/dev/null\necho "the keyring is locked"\nexit 3\n');
chmodSync(join(binDir, 'docker-credential-kilnbroken'), 0o755);

/** Put an entry straight into the fake helper's store, as if stored earlier. */
function helperHas(helperStore: string, url: string, username: string, secret: string): void {
  mkdirSync(helperStore, { recursive: true });
  writeFileSync(join(helperStore, url.replace(/[^A-Za-z0-9.]/g, '_')), JSON.stringify({ ServerURL: url, Username: username, Secret: secret }));
}
function helperCalls(helperStore: string): string[] {
  const log = join(helperStore, 'calls');
  return existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : [];
}
function readConfig(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
}

describe('dockerConfigDir', () => {
  it('is $DOCKER_CONFIG, else ~/.docker', () => {
    expect(dockerConfigDir({ DOCKER_CONFIG: '/etc/dockercfg', HOME: '/home/u' })).toBe('/etc/dockercfg');
    expect(dockerConfigDir({ HOME: '/home/u' })).toBe('/home/u/.docker');
    expect(dockerConfigDir({ DOCKER_CONFIG: '', HOME: '/home/u' })).toBe('/home/u/.docker');
  });
});

describe('credentialKey', () => {
  it("normalizes Docker Hub's names to Docker's key", () => {
    for (const host of ['docker.io', 'index.docker.io', 'registry-1.docker.io', 'https://index.docker.io/v1/', 'Docker.IO']) {
      expect(credentialKey(host)).toBe('https://index.docker.io/v1/');
    }
  });
  it('keeps other registries as host[:port], dropping a scheme and path', () => {
    expect(credentialKey('ghcr.io')).toBe('ghcr.io');
    expect(credentialKey('localhost:5000')).toBe('localhost:5000');
    expect(credentialKey('https://myreg.example:5000/v2/')).toBe('myreg.example:5000');
    expect(credentialKey('http://127.0.0.1:5000')).toBe('127.0.0.1:5000');
    expect(credentialKey('quay.io/org/repo')).toBe('quay.io');
  });
});

describe('getCredentials from auths', () => {
  it('decodes auth (base64 user:password), keeping colons in the password', async () => {
    const { env } = setup({ auths: { 'localhost:5000': { auth: b64('alice:pa:ss') } } });
    expect(await getCredentials('localhost:5000', env)).toEqual({ username: 'alice', password: 'pa:ss' });
  });
  it('reads username/password fields, identitytoken and registrytoken', async () => {
    const { env } = setup({
      auths: {
        'a.example': { username: 'bob', password: 'pw' },
        'b.example': { identitytoken: 'refresh-tok' },
        'c.example': { registrytoken: 'bearer-tok' },
        'd.example': { auth: b64('carol:x'), identitytoken: 'id-tok' },
      },
    });
    expect(await getCredentials('a.example', env)).toEqual({ username: 'bob', password: 'pw' });
    expect(await getCredentials('b.example', env)).toEqual({ identityToken: 'refresh-tok' });
    expect(await getCredentials('c.example', env)).toEqual({ registryToken: 'bearer-tok' });
    expect(await getCredentials('d.example', env)).toEqual({ username: 'carol', password: 'x', identityToken: 'id-tok' });
  });
  it('is undefined without a config file, an entry, or anything in the entry', async () => {
    expect(await getCredentials('ghcr.io', setup().env)).toBeUndefined();
    const { env } = setup({ auths: { 'other.example': { auth: b64('u:p') }, 'ghcr.io': {} } });
    expect(await getCredentials('ghcr.io', env)).toBeUndefined();
    expect(await getCredentials('nothere.example', env)).toBeUndefined();
    expect(await getCredentials('ghcr.io', setup('').env)).toBeUndefined();
  });
  it('finds legacy keys (https://host, http://host, https://host/v1/), the exact key first', async () => {
    const { env } = setup({
      auths: {
        'https://one.example': { auth: b64('u1:p1') },
        'http://two.example:5000': { auth: b64('u2:p2') },
        'https://three.example/v1/': { auth: b64('u3:p3') },
        'https://four.example': { auth: b64('legacy:old') },
        'four.example': { auth: b64('current:new') },
      },
    });
    expect(await getCredentials('one.example', env)).toEqual({ username: 'u1', password: 'p1' });
    expect(await getCredentials('two.example:5000', env)).toEqual({ username: 'u2', password: 'p2' });
    expect(await getCredentials('two.example', env)).toBeUndefined();
    expect(await getCredentials('three.example', env)).toEqual({ username: 'u3', password: 'p3' });
    expect(await getCredentials('four.example', env)).toEqual({ username: 'current', password: 'new' });
  });
  it("finds Docker Hub's entry under Docker's key for every Hub name", async () => {
    const { env } = setup({ auths: { 'https://index.docker.io/v1/': { auth: b64('hubuser:hubpw') } } });
    for (const host of ['docker.io', 'index.docker.io', 'registry-1.docker.io']) {
      expect(await getCredentials(host, env)).toEqual({ username: 'hubuser', password: 'hubpw' });
    }
    const other = setup({ auths: { 'docker.io': { auth: b64('h2:p2') } } });
    expect(await getCredentials('registry-1.docker.io', other.env)).toEqual({ username: 'h2', password: 'p2' });
  });
  it('takes DOCKER_AUTH_CONFIG first, then config.json', async () => {
    const { env } = setup({ auths: { 'a.example': { auth: b64('file:f') }, 'b.example': { auth: b64('file:b') } } });
    env.DOCKER_AUTH_CONFIG = JSON.stringify({ auths: { 'a.example': { auth: b64('env:e') } } });
    expect(await getCredentials('a.example', env)).toEqual({ username: 'env', password: 'e' });
    expect(await getCredentials('b.example', env)).toEqual({ username: 'file', password: 'b' });
  });
  it('reports a broken file or entry without quoting secrets', async () => {
    const secret = b64('user:hunter2');
    const broken = setup(`{"auths": {"x.example": {"auth": "${secret}"}}, oops}`);
    const err = await getCredentials('x.example', broken.env).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KilnError);
    expect((err as Error).message).toContain(broken.file);
    expect((err as Error).message).not.toContain(secret);
    const badAuth = setup({ auths: { 'x.example': { auth: b64('no-colon-here') } } });
    const err2 = await getCredentials('x.example', badAuth.env).catch((e: unknown) => e);
    expect(err2).toBeInstanceOf(KilnError);
    expect((err2 as Error).message).toMatch(/auths\["x.example"\]/);
    expect((err2 as Error).message).not.toContain('no-colon-here');
  });
});

describe('credential helpers', () => {
  it('credHelpers beats credsStore, which beats auths', async () => {
    const { env, helperStore } = setup({
      auths: { 'a.example': { auth: b64('plain:a') }, 'b.example': { auth: b64('plain:b') }, 'c.example': { auth: b64('plain:c') } },
      credHelpers: { 'a.example': 'kilntest' },
      credsStore: 'kilnother',
    });
    helperHas(helperStore, 'a.example', 'helper-user', 'helper-secret');
    helperHas(helperStore, 'b.example', 'store-user', 'store-secret');
    expect(await getCredentials('a.example', env)).toEqual({ username: 'helper-user', password: 'helper-secret' });
    expect(await getCredentials('b.example', env)).toEqual({ username: 'store-user', password: 'store-secret' });
    // The global store knows nothing of c.example: the plain entry is used.
    expect(await getCredentials('c.example', env)).toEqual({ username: 'plain', password: 'c' });
    expect(helperCalls(helperStore)).toEqual([
      'docker-credential-kilntest get a.example',
      'docker-credential-kilnother get b.example',
      'docker-credential-kilnother get c.example',
    ]);
  });
  it("asks the helper with Docker Hub's key, and maps <token> to an identity token", async () => {
    const { env, helperStore } = setup({ credHelpers: { 'https://index.docker.io/v1/': 'kilntest', 'tok.example': 'kilntest' } });
    helperHas(helperStore, 'https://index.docker.io/v1/', 'hub', 'hubsecret');
    helperHas(helperStore, 'tok.example', '<token>', 'refresh-token');
    expect(await getCredentials('docker.io', env)).toEqual({ username: 'hub', password: 'hubsecret' });
    expect(await getCredentials('tok.example', env)).toEqual({ identityToken: 'refresh-token' });
    expect(helperCalls(helperStore)[0]).toBe('docker-credential-kilntest get https://index.docker.io/v1/');
  });
  it('treats "credentials not found" as no credentials', async () => {
    const { env } = setup({ credsStore: 'kilntest' });
    expect(await getCredentials('nobody.example', env)).toBeUndefined();
  });
  it('names a missing helper program in a KilnError', async () => {
    const { env } = setup({ credsStore: 'kilnmissing', auths: { 'x.example': { auth: b64('u:p') } } });
    const err = await getCredentials('x.example', env).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KilnError);
    expect((err as Error).message).toMatch(/docker-credential-kilnmissing not found in PATH/);
    expect((err as Error).message).toMatch(/credsStore/);
    await expect(storeCredentials('x.example', { username: 'u', password: 'secret-pw' }, env)).rejects.toThrow(/docker-credential-kilnmissing/);
  });
  it("reports a failing helper with what it said", async () => {
    const { env } = setup({ credHelpers: { 'x.example': 'kilnbroken' } });
    await expect(getCredentials('x.example', env)).rejects.toThrow(/docker-credential-kilnbroken get failed \(exit 3\): the keyring is locked/);
  });
  it('store, get, remove round trip through the helper, leaving docker\'s empty auths entry', async () => {
    const { env, file, helperStore } = setup({ credHelpers: { 'localhost:5000': 'kilntest' }, psFormat: 'table {{.ID}}' });
    const result = await storeCredentials('localhost:5000', { username: 'dev', password: 's3cr"et' }, env);
    expect(result).toEqual({ file, helper: 'docker-credential-kilntest' });
    const config = readConfig(file);
    expect(config.auths).toEqual({ 'localhost:5000': {} });
    expect(config.psFormat).toBe('table {{.ID}}');
    expect(readFileSync(file, 'utf8')).not.toContain('s3cr');
    expect(await getCredentials('localhost:5000', env)).toEqual({ username: 'dev', password: 's3cr"et' });
    expect(await removeCredentials('localhost:5000', env)).toBe(true);
    expect(await getCredentials('localhost:5000', env)).toBeUndefined();
    expect(readConfig(file).auths).toEqual({});
    expect(await removeCredentials('localhost:5000', env)).toBe(false);
    expect(helperCalls(helperStore)).toEqual([
      'docker-credential-kilntest store localhost:5000',
      'docker-credential-kilntest get localhost:5000',
      'docker-credential-kilntest erase localhost:5000',
      'docker-credential-kilntest get localhost:5000',
      'docker-credential-kilntest erase localhost:5000',
    ]);
  });
});

describe('storeCredentials and removeCredentials in config.json', () => {
  const others = {
    credHelpers: { 'gcr.io': 'gcloud' },
    HttpHeaders: { 'X-Meta': 'keep' },
    proxies: { default: { httpProxy: 'http://proxy:3128', noProxy: '*.local' } },
    psFormat: 'table {{.ID}}\\t{{.Names}}',
    currentContext: 'desktop-linux',
    plugins: { buildx: { 'x-unknown': 'true' } },
    aliases: { builder: 'buildx' },
    features: { hooks: 'true' },
    someFutureKey: [1, 2, { nested: null, flag: false }],
  };

  it('writes auths with base64 user:password, keeping every other key and its order', async () => {
    const { env, file } = setup({ auths: { 'keep.example': { auth: b64('k:k'), email: 'k@example.com' } }, ...others });
    const result = await storeCredentials('ghcr.io', { username: 'octo', password: 'ghp_token' }, env);
    expect(result).toEqual({ file });
    const after = readConfig(file);
    expect(after.auths).toEqual({ 'keep.example': { auth: b64('k:k'), email: 'k@example.com' }, 'ghcr.io': { auth: b64('octo:ghp_token') } });
    const { auths: _auths, ...rest } = after;
    expect(rest).toEqual(others);
    expect(Object.keys(after)).toEqual(['auths', ...Object.keys(others)]);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(dirname(file))).toEqual(['config.json']);
    expect(await getCredentials('ghcr.io', env)).toEqual({ username: 'octo', password: 'ghp_token' });
  });

  it('stores Docker Hub under https://index.docker.io/v1/', async () => {
    const { env, file } = setup({});
    await storeCredentials('docker.io', { username: 'hub', password: 'pw' }, env);
    expect(readConfig(file).auths).toEqual({ 'https://index.docker.io/v1/': { auth: b64('hub:pw') } });
  });

  it('creates the directory 0700 and the file 0600', async () => {
    const dir = join(root, `fresh-${++counter}`, 'nested', '.docker');
    const env = { DOCKER_CONFIG: dir, PATH: process.env.PATH };
    const { file } = await storeCredentials('localhost:5000', { username: 'u', password: 'p' }, env);
    expect(file).toBe(join(dir, 'config.json'));
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readConfig(file)).toEqual({ auths: { 'localhost:5000': { auth: b64('u:p') } } });
  });

  it('replaces a 0644 file with a 0600 one', async () => {
    const { env, file } = setup({ auths: {} });
    chmodSync(file, 0o644);
    await storeCredentials('localhost:5000', { username: 'u', password: 'p' }, env);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('writes through a symlinked config.json', async () => {
    const { env, dir } = setup();
    const real = join(root, `real-config-${counter}.json`);
    writeFileSync(real, JSON.stringify({ psFormat: 'x' }));
    symlinkSync(real, join(dir, 'config.json'));
    await storeCredentials('localhost:5000', { username: 'u', password: 'p' }, env);
    expect(lstatSync(join(dir, 'config.json')).isSymbolicLink()).toBe(true);
    expect(readConfig(real)).toEqual({ psFormat: 'x', auths: { 'localhost:5000': { auth: b64('u:p') } } });
  });

  it('removes the key and its legacy spellings, keeping everything else', async () => {
    const { env, file } = setup({
      auths: {
        'localhost:5000': { auth: b64('a:a') },
        'https://localhost:5000': { auth: b64('b:b') },
        'http://localhost:5000/v1/': { auth: b64('c:c') },
        'localhost:5001': { auth: b64('d:d') },
      },
      ...others,
    });
    expect(await removeCredentials('localhost:5000', env)).toBe(true);
    const after = readConfig(file);
    expect(after.auths).toEqual({ 'localhost:5001': { auth: b64('d:d') } });
    const { auths: _auths, ...rest } = after;
    expect(rest).toEqual(others);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(await getCredentials('localhost:5000', env)).toBeUndefined();
    expect(await removeCredentials('localhost:5000', env)).toBe(false);
  });

  it('does not create a file to remove nothing', async () => {
    const { env, file } = setup();
    expect(await removeCredentials('localhost:5000', env)).toBe(false);
    expect(existsSync(file)).toBe(false);
  });

  it('refuses a user name with a colon or an empty password, without echoing the password', async () => {
    const { env } = setup({});
    await expect(storeCredentials('x.example', { username: 'a:b', password: 'topsecret' }, env)).rejects.toThrow(KilnError);
    await expect(storeCredentials('x.example', { username: 'a', password: '' }, env)).rejects.toThrow(/empty/);
    const err = await storeCredentials('x.example', { username: 'a:b', password: 'topsecret' }, env).catch((e: unknown) => e);
    expect((err as Error).message).not.toContain('topsecret');
  });
});

describe('kiln login / kiln logout', () => {
  const saved = process.env.DOCKER_CONFIG;
  let dir: string;
  beforeEach(() => {
    dir = setup().dir;
    process.env.DOCKER_CONFIG = dir;
  });
  afterAll(() => {
    if (saved === undefined) delete process.env.DOCKER_CONFIG;
    else process.env.DOCKER_CONFIG = saved;
  });

  function capture(stdin = ''): CliIo & { out: () => string; err: () => string } {
    let out = '';
    let err = '';
    return {
      stdout: (t) => void (out += t),
      stderr: (t) => void (err += t),
      readStdin: async () => new TextEncoder().encode(stdin),
      out: () => out,
      err: () => err,
    };
  }

  it('logs in with --password-stdin and stores what docker would', async () => {
    const io = capture('s3cret\n');
    expect(await loginCommand(['-u', 'alice', '--password-stdin', 'localhost:5000'], io)).toBe(0);
    expect(io.out()).toBe('Login Succeeded\n');
    expect(io.err()).toContain(`WARNING! Your password will be stored unencrypted in ${join(dir, 'config.json')}`);
    expect(await getCredentials('localhost:5000')).toEqual({ username: 'alice', password: 's3cret' });
  });

  it('defaults to Docker Hub and trims one CRLF from stdin', async () => {
    const io = capture('pw with spaces \r\n');
    expect(await loginCommand(['--username=hub', '--password-stdin'], io)).toBe(0);
    expect(readConfig(join(dir, 'config.json')).auths).toEqual({ 'https://index.docker.io/v1/': { auth: b64('hub:pw with spaces ') } });
  });

  it('accepts -p with docker\'s warning', async () => {
    const io = capture();
    expect(await loginCommand(['-u', 'bob', '-p', 'pw', 'https://reg.example:5000'], io)).toBe(0);
    expect(io.err()).toContain('WARNING! Using --password via the CLI is insecure. Use --password-stdin.');
    expect(await getCredentials('reg.example:5000')).toEqual({ username: 'bob', password: 'pw' });
  });

  it('reports a helper login without the plain-text warning', async () => {
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ credsStore: 'kilntest' }));
    const savedPath = process.env.PATH;
    const savedStore = process.env.KILNTEST_STORE;
    process.env.PATH = `${binDir}:${savedPath ?? ''}`;
    process.env.KILNTEST_STORE = join(dir, 'helper');
    try {
      const io = capture('pw');
      expect(await loginCommand(['-u', 'carol', '--password-stdin', 'helper.example'], io)).toBe(0);
      expect(io.err()).toBe('');
      expect(await getCredentials('helper.example')).toEqual({ username: 'carol', password: 'pw' });
    } finally {
      process.env.PATH = savedPath;
      if (savedStore === undefined) delete process.env.KILNTEST_STORE;
      else process.env.KILNTEST_STORE = savedStore;
    }
  });

  it('refuses to prompt, and explains --password-stdin', async () => {
    const err = await loginCommand(['-u', 'alice', 'localhost:5000'], capture()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toContain('--password-stdin');
    await expect(loginCommand(['--password-stdin'], capture('pw'))).rejects.toThrow(/Must provide --username with --password-stdin/);
    await expect(loginCommand(['-u', 'a', '-p', 'x', '--password-stdin'], capture('pw'))).rejects.toThrow(/mutually exclusive/);
    await expect(loginCommand(['-u', 'a', '--password-stdin', 'one', 'two'], capture('pw'))).rejects.toThrow(UsageError);
    await expect(loginCommand(['-u', 'a', '--password-stdin'], capture('\n'))).rejects.toThrow(KilnError);
    expect(existsSync(join(dir, 'config.json'))).toBe(false);
  });

  it('logs out, printing what it removes as docker does', async () => {
    await storeCredentials('localhost:5000', { username: 'u', password: 'p' });
    await storeCredentials('docker.io', { username: 'h', password: 'p' });
    const io = capture();
    expect(await logoutCommand(['localhost:5000'], io)).toBe(0);
    expect(io.out()).toBe('Removing login credentials for localhost:5000\n');
    expect(await getCredentials('localhost:5000')).toBeUndefined();
    const hub = capture();
    expect(await logoutCommand([], hub)).toBe(0);
    expect(hub.out()).toBe('Removing login credentials for https://index.docker.io/v1/\n');
    expect(readConfig(join(dir, 'config.json')).auths).toEqual({});
    await expect(logoutCommand(['a', 'b'], capture())).rejects.toThrow(UsageError);
  });
});
