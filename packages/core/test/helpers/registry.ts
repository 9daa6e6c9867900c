/**
 * A real CNCF distribution registry (Debian's `docker-registry`, 2.8) for tests, started on
 * 127.0.0.1 with a free port and a temp dir, optionally with:
 * - `auth: 'htpasswd'`: Basic auth from a bcrypt htpasswd file (made with `htpasswd -Bbn` from
 *   apache2-utils, else with python3's crypt module, which uses glibc's bcrypt);
 * - `auth: 'token'`: Docker's token auth, with a token server written here (below) that issues
 *   RS256 JWTs whose `x5c` header carries a certificate listed in the registry's
 *   `auth.token.rootcertbundle` (made with openssl), exactly as the token spec describes;
 * - `tls: true`: HTTPS with a server certificate for 127.0.0.1/localhost from a test CA (openssl);
 *   `caFile`/`caPem` are that CA, for NODE_EXTRA_CA_CERTS in a child process or the client's
 *   `caCertificates` option.
 * `stop()` kills the registry by its PID and removes its directory. The registry's access log is
 * kept, so tests can count requests (e.g. PATCH chunks) with `requests()`.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, createPrivateKey, randomBytes, sign, X509Certificate } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { INSTALL_SCRIPT, TOOLS } from './requirements.js';

const execFileAsync = promisify(execFile);

/** The registry binary (KILN_TEST_REGISTRY_BIN overrides); tests ask for it with tools('docker-registry'). */
export const REGISTRY_BIN: string = TOOLS['docker-registry'].bin;

export interface RegistryOptions {
  auth?: 'htpasswd' | 'token';
  tls?: boolean;
  /** Users for htpasswd or the token server; default { kiln: 'secret-pass-123' }. */
  users?: Record<string, string>;
  /** Token server: whether anonymous requests get pull access (default false: they get none). */
  anonymousPull?: boolean;
  /** Token server: expires_in of its tokens, seconds (default 300). */
  tokenLifetime?: number;
  /** Token server: answer with `access_token` instead of `token` (default false). */
  tokenField?: 'token' | 'access_token';
  /** Token server: accounts that get pull access only. */
  pullOnly?: string[];
}

export interface TokenRequestRecord {
  method: string;
  scopes: string[];
  /** The authenticated account, or '' for anonymous. Never the password. */
  account: string;
  grantType: string;
  status: number;
}

export interface TestRegistry {
  /** '127.0.0.1:PORT': the domain to use in image references. */
  host: string;
  port: number;
  /** http(s)://127.0.0.1:PORT */
  url: string;
  root: string;
  users: Record<string, string>;
  /** TLS only: the test CA (PEM file and contents). */
  caFile?: string;
  caPem?: string;
  /** Token auth only. */
  tokenServer?: TokenServer;
  /** The registry's log so far (access log lines included). */
  log(): string;
  /** How many requests with this method (and path matching `path`) the registry answered. */
  requests(method: string, path?: RegExp): number;
  pid: number;
  stop(): Promise<void>;
}

export interface TokenServer {
  url: string;
  realm: string;
  service: string;
  requests: TokenRequestRecord[];
  /** Refresh tokens (identity tokens) the server accepts, mapped to their account. */
  refreshTokens: Map<string, string>;
  close(): Promise<void>;
}

const DEFAULT_USERS = { kiln: 'secret-pass-123' };

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function run(cmd: string, args: string[], opts: { cwd?: string; input?: string } = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: opts.cwd, input: opts.input });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr || r.error}`);
  return r.stdout;
}

/** A bcrypt htpasswd line: apache2-utils' htpasswd, else python3 + glibc's crypt. */
export function htpasswdLine(user: string, password: string): string {
  const bin = ['/usr/bin/htpasswd', '/usr/sbin/htpasswd'].find((p) => existsSync(p));
  if (bin) return run(bin, ['-Bbn', user, password]).trim();
  const hash = run('python3', [
    '-W',
    'ignore',
    '-c',
    'import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=32)))',
    password,
  ]).trim();
  if (!hash.startsWith('$2')) throw new Error('no bcrypt available: install apache2-utils (htpasswd)');
  return `${user}:${hash}`;
}

interface TlsFiles {
  dir: string;
  caFile: string;
  caPem: string;
  certFile: string;
  keyFile: string;
}

/** A test CA and a server certificate for 127.0.0.1 / localhost / ::1 signed by it (EC P-256). */
export function makeTestCa(dir: string): TlsFiles {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run('openssl', ['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '3', '-subj', '/CN=Kiln Test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], { cwd: dir });
  run('openssl', ['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1'], { cwd: dir });
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n');
  run('openssl', ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt',
    '-days', '3', '-extfile', 'server.ext'], { cwd: dir });
  return {
    dir,
    caFile: join(dir, 'ca.crt'),
    caPem: readFileSync(join(dir, 'ca.crt'), 'utf8'),
    certFile: join(dir, 'server.crt'),
    keyFile: join(dir, 'server.key'),
  };
}

const b64url = (b: Buffer | string): string => Buffer.from(b).toString('base64url');

/**
 * Docker's token server (https://distribution.github.io/distribution/spec/auth/token/):
 * GET /token?service=&scope=…&account= with optional Basic auth, and the OAuth2 POST
 * (grant_type=password or refresh_token). Authenticated users get every action they ask for;
 * anonymous users get pull when `anonymousPull`, else nothing (the registry then answers 401).
 */
async function startTokenServer(
  dir: string,
  users: Record<string, string>,
  opts: {
    anonymousPull: boolean;
    lifetime: number;
    field: 'token' | 'access_token';
    service: string;
    issuer: string;
    pullOnly: string[];
  },
): Promise<TokenServer & { certFile: string }> {
  run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'jwt.key', '-out', 'jwt.crt', '-days', '3',
    '-subj', '/CN=Kiln Test Token Signer'], { cwd: dir });
  const key = createPrivateKey(readFileSync(join(dir, 'jwt.key')));
  const certDer = new X509Certificate(readFileSync(join(dir, 'jwt.crt'))).raw;
  const requests: TokenRequestRecord[] = [];
  const refreshTokens = new Map<string, string>();

  const issue = (account: string, scopes: string[]): string => {
    const now = Math.floor(Date.now() / 1000);
    const access = scopes
      .map((s) => {
        const parts = s.split(':');
        if (parts.length < 3) return undefined;
        const type = parts[0] as string;
        const actions = (parts[parts.length - 1] as string).split(',').filter((a) => a !== '');
        const name = parts.slice(1, -1).join(':');
        const pullOnly = account === '' ? opts.anonymousPull : opts.pullOnly.includes(account);
        const granted = account === '' && !opts.anonymousPull ? [] : pullOnly ? actions.filter((a) => a === 'pull') : actions;
        return { type, name, actions: granted };
      })
      .filter((a) => a !== undefined && a.actions.length > 0);
    const hdr = { typ: 'JWT', alg: 'RS256', x5c: [certDer.toString('base64')] };
    const claims = {
      iss: opts.issuer,
      sub: account,
      aud: opts.service,
      exp: now + opts.lifetime,
      nbf: now - 10,
      iat: now,
      jti: randomBytes(8).toString('hex'),
      access,
    };
    const signingInput = `${b64url(JSON.stringify(hdr))}.${b64url(JSON.stringify(claims))}`;
    return `${signingInput}.${b64url(sign('sha256', Buffer.from(signingInput), key))}`;
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const record: TokenRequestRecord = { method: req.method ?? '', scopes: [], account: '', grantType: '', status: 0 };
      requests.push(record);
      const reply = (status: number, body: unknown): void => {
        record.status = status;
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (url.pathname !== '/token') return reply(404, { errors: [{ code: 'NOT_FOUND', message: 'no such endpoint' }] });
      let account = '';
      let scopes: string[] = [];
      if (req.method === 'GET') {
        scopes = url.searchParams.getAll('scope').flatMap((s) => s.split(' ')).filter((s) => s !== '');
        record.grantType = 'basic';
        const auth = req.headers.authorization;
        if (auth) {
          const m = /^Basic (.+)$/i.exec(auth);
          const [u, ...p] = Buffer.from(m?.[1] ?? '', 'base64').toString('utf8').split(':');
          if (!m || u === undefined || users[u] === undefined || users[u] !== p.join(':')) {
            return reply(401, { errors: [{ code: 'UNAUTHORIZED', message: 'invalid username or password' }] });
          }
          account = u;
        }
      } else if (req.method === 'POST') {
        const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
        scopes = (form.get('scope') ?? '').split(' ').filter((s) => s !== '');
        const grant = form.get('grant_type') ?? '';
        record.grantType = grant;
        if (grant === 'password') {
          const u = form.get('username') ?? '';
          if (users[u] === undefined || users[u] !== form.get('password')) return reply(401, { error: 'invalid_grant' });
          account = u;
        } else if (grant === 'refresh_token') {
          const who = refreshTokens.get(form.get('refresh_token') ?? '');
          if (who === undefined) return reply(401, { error: 'invalid_grant', error_description: 'unknown refresh token' });
          account = who;
        } else return reply(400, { error: 'unsupported_grant_type' });
      } else return reply(405, { errors: [{ code: 'UNSUPPORTED', message: 'method not allowed' }] });
      record.scopes = scopes;
      record.account = account;
      const token = issue(account, scopes);
      const now = new Date().toISOString();
      reply(200, { [opts.field]: token, expires_in: opts.lifetime, issued_at: now });
    });
  });
  const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    realm: `${url}/token`,
    service: opts.service,
    requests,
    refreshTokens,
    certFile: join(dir, 'jwt.crt'),
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

function getStatus(url: string, ca?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const mod = url.startsWith('https:') ? https : http;
    const req = mod.get(url, { ...(ca ? { ca } : {}), agent: false, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

export async function startRegistry(options: RegistryOptions = {}): Promise<TestRegistry> {
  if (!existsSync(REGISTRY_BIN)) {
    throw new Error(`${REGISTRY_BIN} is missing: run ${INSTALL_SCRIPT} as root (Debian package docker-registry)`);
  }
  const root = mkdtempSync(join(tmpdir(), 'kiln-registry-'));
  const users = options.users ?? DEFAULT_USERS;
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const lines = [
    'version: 0.1',
    'log:',
    '  level: info',
    '  accesslog:',
    '    disabled: false',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${join(root, 'data')}`,
    '  delete:',
    '    enabled: true',
    '  redirect:',
    '    disable: true',
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    'http:',
    `  addr: ${host}`,
    `  secret: ${randomBytes(16).toString('hex')}`,
  ];
  let tls: TlsFiles | undefined;
  if (options.tls) {
    tls = makeTestCa(root);
    lines.push('  tls:', `    certificate: ${tls.certFile}`, `    key: ${tls.keyFile}`);
  }
  let tokenServer: (TokenServer & { certFile: string }) | undefined;
  if (options.auth === 'htpasswd') {
    const file = join(root, 'htpasswd');
    writeFileSync(file, `${Object.entries(users).map(([u, p]) => htpasswdLine(u, p)).join('\n')}\n`);
    lines.push('auth:', '  htpasswd:', '    realm: kiln-test', `    path: ${file}`);
  } else if (options.auth === 'token') {
    const service = 'kiln-test-registry';
    const issuer = 'kiln-test-token-server';
    tokenServer = await startTokenServer(root, users, {
      anonymousPull: options.anonymousPull ?? false,
      lifetime: options.tokenLifetime ?? 300,
      field: options.tokenField ?? 'token',
      pullOnly: options.pullOnly ?? [],
      service,
      issuer,
    });
    lines.push('auth:', '  token:', `    realm: ${tokenServer.realm}`, `    service: ${service}`, `    issuer: ${issuer}`,
      `    rootcertbundle: ${tokenServer.certFile}`);
  }
  const configFile = join(root, 'config.yml');
  writeFileSync(configFile, `${lines.join('\n')}\n`);
  const logFile = join(root, 'registry.log');
  const fd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(REGISTRY_BIN, ['serve', configFile], { stdio: ['ignore', fd, fd], detached: false });
  } finally {
    closeSync(fd);
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error(`cannot start ${REGISTRY_BIN}`);
  let exited: number | null = null;
  const exitPromise = new Promise<void>((resolve) => child.on('exit', (code) => {
    exited = code ?? -1;
    resolve();
  }));
  const log = (): string => {
    try {
      return readFileSync(logFile, 'utf8');
    } catch {
      return '';
    }
  };
  const scheme = options.tls ? 'https' : 'http';
  const url = `${scheme}://${host}`;
  const stop = async (): Promise<void> => {
    if (exited === null) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // already gone
      }
      const timer = setTimeout(() => {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }, 5000);
      await exitPromise;
      clearTimeout(timer);
    }
    await tokenServer?.close();
    await rm(root, { recursive: true, force: true });
  };
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (exited !== null) {
      const text = log();
      await stop();
      throw new Error(`docker-registry exited (${exited}) while starting:\n${text}`);
    }
    try {
      await getStatus(`${url}/v2/`, tls?.caPem);
      break;
    } catch {
      if (Date.now() > deadline) {
        const text = log();
        await stop();
        throw new Error(`docker-registry did not answer on ${url}/v2/ within 15 s:\n${text}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const reg: TestRegistry = {
    host,
    port,
    url,
    root,
    users,
    pid,
    log,
    requests: (method, path) => {
      const re = new RegExp(`"${method} (\\S+) HTTP/1\\.1"`, 'g');
      let n = 0;
      for (const m of log().matchAll(re)) if (!path || path.test(m[1] as string)) n++;
      return n;
    },
    stop,
  };
  if (tls) {
    reg.caFile = tls.caFile;
    reg.caPem = tls.caPem;
  }
  if (tokenServer) reg.tokenServer = tokenServer;
  return reg;
}

/**
 * `skopeo inspect` of an image in a test registry: the parsed JSON (with --raw: the manifest).
 * Asynchronous on purpose: the token server runs in the test's own process and must keep answering.
 */
export async function skopeoInspect(
  ref: string,
  opts: { creds?: string; raw?: boolean; certDir?: string; config?: boolean } = {},
): Promise<unknown> {
  const args = ['inspect'];
  if (opts.certDir) args.push('--cert-dir', opts.certDir);
  else args.push('--tls-verify=false');
  if (opts.creds) args.push('--creds', opts.creds);
  if (opts.raw) args.push('--raw');
  if (opts.config) args.push('--config');
  args.push(`docker://${ref}`);
  const { stdout } = await execFileAsync('skopeo', args, { encoding: 'utf8', timeout: 60_000 });
  return JSON.parse(stdout);
}

export const sha256 = (data: Uint8Array | string): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;
