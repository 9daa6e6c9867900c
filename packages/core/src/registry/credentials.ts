// Docker's credential configuration (`$DOCKER_CONFIG/config.json`), read and written the way the
// docker CLI and docker/login-action do: `credHelpers` per registry, then the global `credsStore`
// helper, then the plain `auths` entries; `docker-credential-<name>` helpers spoken to over
// stdin/stdout. Nothing here prints; errors never carry a secret.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, open, readFile, readlink, realpath, rename, unlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { KilnError } from '../errors.js';

import type { Credentials } from './types.js';
export type { Credentials } from './types.js';

/** The key Docker uses for Docker Hub in `auths`, `credHelpers` and with helpers. */
export const DOCKER_HUB_KEY = 'https://index.docker.io/v1/';
const DOCKER_HUB_HOSTS = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);
/** What a helper answers for a token instead of a user name (docker-credential-helpers). */
const TOKEN_USERNAME = '<token>';
const HELPER_PREFIX = 'docker-credential-';

/** `$DOCKER_CONFIG`, else `~/.docker` (Docker's `config.Dir()`). */
export function dockerConfigDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.DOCKER_CONFIG) return resolve(env.DOCKER_CONFIG);
  return join(env.HOME || homedir(), '.docker');
}

/**
 * Docker's registry key: Docker Hub (`docker.io`, `index.docker.io`, `registry-1.docker.io`, or
 * Docker's own key) becomes `https://index.docker.io/v1/`; any other registry its `host[:port]`
 * (a scheme and path, as in `https://host:5000/v2/`, are dropped as `docker login` does).
 */
export function credentialKey(registryHost: string): string {
  const host = toHostname(registryHost.trim());
  if (DOCKER_HUB_HOSTS.has(host.toLowerCase())) return DOCKER_HUB_KEY;
  return host;
}

/** Docker's `ConvertToHostname`: `https://host:5000/v1/` -> `host:5000`, `host/path` -> `host`. */
function toHostname(maybeUrl: string): string {
  if (maybeUrl.includes('://')) {
    try {
      const url = new URL(maybeUrl);
      if (url.host) return url.host;
    } catch {
      // not a URL after all: fall through to the plain cut
    }
  }
  return maybeUrl.split('/', 1)[0] ?? '';
}

function isDockerHubKey(key: string): boolean {
  return key === DOCKER_HUB_KEY;
}

// ---------------------------------------------------------------------------------------------
// config.json

interface AuthEntry {
  auth?: unknown;
  username?: unknown;
  password?: unknown;
  identitytoken?: unknown;
  registrytoken?: unknown;
  [other: string]: unknown;
}

interface ConfigFile {
  auths?: Record<string, AuthEntry>;
  credHelpers?: Record<string, unknown>;
  credsStore?: unknown;
  [other: string]: unknown;
}

function configPath(env: NodeJS.ProcessEnv): string {
  return join(dockerConfigDir(env), 'config.json');
}

/** The parsed config file, or undefined when it does not exist (an empty file is `{}`, as for Docker). */
async function readConfig(file: string): Promise<ConfigFile | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new KilnError(`cannot read the Docker config ${file}: ${(err as Error).message}`);
  }
  return parseConfig(text, file);
}

function parseConfig(text: string, source: string): ConfigFile {
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // The parser's message quotes the text around the error, which may be a secret: leave it out.
    throw new KilnError(`${source} is not valid JSON; fix or remove it`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new KilnError(`${source} is not a JSON object; fix or remove it`);
  }
  const config = value as ConfigFile;
  if (config.auths !== undefined && !isObject(config.auths)) {
    throw new KilnError(`${source}: "auths" must be an object`);
  }
  if (config.credHelpers !== undefined && !isObject(config.credHelpers)) {
    throw new KilnError(`${source}: "credHelpers" must be an object`);
  }
  return config;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * Keys of `auths` that name the same registry as `key`, best first: the key itself, then the
 * legacy spellings Docker still matches (`https://host`, `http://host`, `https://host/v1/`...,
 * anything whose hostname is the registry's). For Docker Hub, entries under `docker.io`,
 * `index.docker.io` or `registry-1.docker.io` (in any of those spellings) count too.
 */
function matchingKeys(auths: Record<string, unknown>, key: string): string[] {
  const found: string[] = [];
  if (Object.hasOwn(auths, key)) found.push(key);
  for (const candidate of Object.keys(auths)) {
    if (candidate === key) continue;
    const host = toHostname(candidate);
    const same = isDockerHubKey(key) ? DOCKER_HUB_HOSTS.has(host.toLowerCase()) : host === key;
    if (same) found.push(candidate);
  }
  return found;
}

/** The credentials in one `auths` entry, or undefined when it holds none (`{}` under a helper). */
function entryCredentials(entry: unknown, where: string): Credentials | undefined {
  if (!isObject(entry)) return undefined;
  const creds: Credentials = {};
  const text = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
  const auth = text(entry.auth);
  if (auth !== undefined) {
    const decoded = Buffer.from(auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (!/^[A-Za-z0-9+/=\s]*$/.test(auth) || colon <= 0) {
      throw new KilnError(`${where}: "auth" is not base64 of "username:password"`);
    }
    creds.username = decoded.slice(0, colon);
    creds.password = decoded.slice(colon + 1).replace(/\0+$/, '');
  } else {
    creds.username = text(entry.username);
    creds.password = text(entry.password);
  }
  creds.identityToken = text(entry.identitytoken);
  creds.registryToken = text(entry.registrytoken);
  return pruned(creds);
}

function pruned(creds: Credentials): Credentials | undefined {
  const out: Credentials = {};
  if (creds.username !== undefined) out.username = creds.username;
  if (creds.password !== undefined) out.password = creds.password;
  if (creds.identityToken !== undefined) out.identityToken = creds.identityToken;
  if (creds.registryToken !== undefined) out.registryToken = creds.registryToken;
  return out.password !== undefined || out.identityToken !== undefined || out.registryToken !== undefined ? out : undefined;
}

function fromAuths(config: ConfigFile, key: string, source: string): Credentials | undefined {
  const auths = config.auths;
  if (!auths) return undefined;
  for (const k of matchingKeys(auths, key)) {
    const creds = entryCredentials(auths[k], `${source}: auths["${k}"]`);
    if (creds) return creds;
  }
  return undefined;
}

interface HelperChoice {
  name: string;
  /** Where it was configured, for error messages. */
  origin: string;
}

/** `credHelpers[key]` (for Docker Hub also under its host names), else `credsStore`. */
function helperFor(config: ConfigFile, key: string, file: string): HelperChoice | undefined {
  const helpers = config.credHelpers ?? {};
  const keys = isDockerHubKey(key) ? [key, ...Object.keys(helpers).filter((k) => k !== key && DOCKER_HUB_HOSTS.has(toHostname(k).toLowerCase()))] : [key];
  for (const k of keys) {
    const name = helpers[k];
    if (typeof name === 'string' && name !== '') return { name, origin: `credHelpers["${k}"] in ${file}` };
  }
  if (typeof config.credsStore === 'string' && config.credsStore !== '') {
    return { name: config.credsStore, origin: `credsStore in ${file}` };
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// credential helpers (docker-credential-helpers protocol)

interface HelperResult {
  code: number;
  stdout: string;
  stderr: string;
}

async function runHelper(helper: HelperChoice, action: 'get' | 'store' | 'erase', input: string, env: NodeJS.ProcessEnv): Promise<HelperResult> {
  if (/[/\\]/.test(helper.name) || helper.name.trim() !== helper.name) {
    throw new KilnError(`credential helper name "${helper.name}" (${helper.origin}) is not a plain program suffix`);
  }
  const program = HELPER_PREFIX + helper.name;
  return new Promise<HelperResult>((resolvePromise, reject) => {
    // spawn looks the program up in env.PATH when env is given.
    const child = spawn(program, [action], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.stdin.on('error', () => {
      // EPIPE when the helper exits without reading; its exit status tells the story.
    });
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') {
        reject(new KilnError(`credential helper ${program} not found in PATH (configured as ${helper.origin}); install it or remove that setting`));
      } else if (e.code === 'EACCES') {
        reject(new KilnError(`credential helper ${program} is not executable (configured as ${helper.origin})`));
      } else {
        reject(new KilnError(`cannot run credential helper ${program}: ${e.message}`));
      }
    });
    child.on('close', (code, signal) => {
      resolvePromise({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    child.stdin.end(input);
  });
}

/** docker-credential-helpers' `ErrCredentialsNotFound` message ("credentials not found in native keychain"). */
function isNotFound(result: HelperResult): boolean {
  return /credentials not found/i.test(result.stdout) || /credentials not found/i.test(result.stderr);
}

/** What a failed helper said, shortened; helpers print their error on stdout, some on stderr. */
function helperFailure(helper: HelperChoice, action: string, result: HelperResult): KilnError {
  const said = (result.stdout.trim() || result.stderr.trim()).split('\n', 1)[0]!.slice(0, 200);
  return new KilnError(
    `credential helper ${HELPER_PREFIX}${helper.name} ${action} failed (exit ${result.code})${said ? `: ${said}` : ''}`,
  );
}

async function helperGet(helper: HelperChoice, serverUrl: string, env: NodeJS.ProcessEnv): Promise<Credentials | undefined> {
  const result = await runHelper(helper, 'get', serverUrl, env);
  if (result.code !== 0) {
    if (isNotFound(result)) return undefined;
    throw helperFailure(helper, 'get', result);
  }
  if (result.stdout.trim() === '') return undefined;
  let reply: unknown;
  try {
    reply = JSON.parse(result.stdout);
  } catch {
    // Not quoted: the output may hold the secret.
    throw new KilnError(`credential helper ${HELPER_PREFIX}${helper.name} get printed something that is not JSON`);
  }
  if (!isObject(reply)) throw new KilnError(`credential helper ${HELPER_PREFIX}${helper.name} get printed something that is not a JSON object`);
  const username = typeof reply.Username === 'string' ? reply.Username : '';
  const secret = typeof reply.Secret === 'string' ? reply.Secret : '';
  if (secret === '') return undefined;
  if (username === TOKEN_USERNAME) return { identityToken: secret };
  return username === '' ? { password: secret } : { username, password: secret };
}

// ---------------------------------------------------------------------------------------------
// public API

/**
 * The credentials Docker would use for `registryHost`, or undefined for anonymous access.
 * `DOCKER_AUTH_CONFIG` (a config.json document in the environment, as in recent docker CLIs)
 * comes first; then the helper for the registry (`credHelpers`, else `credsStore`); then the
 * `auths` entries of config.json. A missing helper program is an error, as it is for docker.
 */
export async function getCredentials(registryHost: string, env: NodeJS.ProcessEnv = process.env): Promise<Credentials | undefined> {
  const key = credentialKey(registryHost);
  const fromEnv = env.DOCKER_AUTH_CONFIG;
  if (fromEnv !== undefined && fromEnv.trim() !== '') {
    const creds = fromAuths(parseConfig(fromEnv, 'DOCKER_AUTH_CONFIG'), key, 'DOCKER_AUTH_CONFIG');
    if (creds) return creds;
  }
  const file = configPath(env);
  const config = await readConfig(file);
  if (!config) return undefined;
  const helper = helperFor(config, key, file);
  if (helper) {
    const creds = await helperGet(helper, key, env);
    if (creds) return creds;
    // Docker stops here; Kiln also honours a plain entry written into `auths` by hand or by
    // another tool, since a helper that knows nothing cannot be what the user meant.
  }
  return fromAuths(config, key, file);
}

/**
 * Save a user name and password for `registryHost` as `docker login` does: through the
 * registry's helper when one is configured (leaving an empty `auths` entry, like docker), else
 * base64 in `auths` of config.json. Returns the config file and the helper used, if any.
 */
export async function storeCredentials(
  registryHost: string,
  creds: { username: string; password: string },
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ file: string; helper?: string }> {
  if (creds.username === '') throw new KilnError('a user name is required to store credentials');
  if (creds.username.includes(':')) throw new KilnError('a user name cannot contain ":" (Docker stores "user:password")');
  if (creds.password === '') throw new KilnError('the password is empty');
  const key = credentialKey(registryHost);
  if (key === '') throw new KilnError(`"${registryHost}" is not a registry host`);
  const file = configPath(env);
  const config = (await readConfig(file)) ?? {};
  const helper = helperFor(config, key, file);
  let entry: AuthEntry;
  if (helper) {
    const input = JSON.stringify({ ServerURL: key, Username: creds.username, Secret: creds.password });
    const result = await runHelper(helper, 'store', input, env);
    if (result.code !== 0) throw helperFailure(helper, 'store', result);
    entry = {};
  } else {
    entry = { auth: Buffer.from(`${creds.username}:${creds.password}`, 'utf8').toString('base64') };
  }
  const auths = isObject(config.auths) ? config.auths : {};
  const previous = auths[key];
  const unchanged = previous !== undefined && JSON.stringify(previous) === JSON.stringify(entry);
  if (!unchanged) {
    config.auths = { ...auths, [key]: entry };
    await writeConfig(file, config);
  }
  return helper ? { file, helper: HELPER_PREFIX + helper.name } : { file };
}

/**
 * Forget the credentials for `registryHost` as `docker logout` does: erase them from the
 * registry's helper when one is configured, and drop its `auths` entries (the key and its legacy
 * spellings). True when something was removed.
 */
export async function removeCredentials(registryHost: string, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  const key = credentialKey(registryHost);
  const file = configPath(env);
  const config = await readConfig(file);
  if (!config) return false;
  let removed = false;
  const helper = helperFor(config, key, file);
  if (helper) {
    const result = await runHelper(helper, 'erase', key, env);
    if (result.code === 0) removed = true;
    else if (!isNotFound(result)) throw helperFailure(helper, 'erase', result);
  }
  const auths = config.auths;
  if (auths) {
    const keys = matchingKeys(auths, key);
    if (keys.length > 0) {
      // fromEntries, not assignment: a key such as "__proto__" stays a plain key.
      config.auths = Object.fromEntries(Object.entries(auths).filter(([k]) => !keys.includes(k)));
      await writeConfig(file, config);
      // An empty `{}` left by a helper login is not a credential, but it is a login record.
      removed = true;
    }
  }
  return removed;
}

/**
 * Write config.json atomically: a 0600 temp file beside it, then rename (onto the target of a
 * symlinked config.json, as docker does). Every other key of the document is kept as it was;
 * Docker's own layout (tab indentation) is used.
 */
async function writeConfig(file: string, config: ConfigFile): Promise<void> {
  const target = await resolveSymlink(file);
  const dir = dirname(target);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const temp = join(dir, `.config.json.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', 0o600);
  try {
    await handle.writeFile(JSON.stringify(config, null, '\t'), 'utf8');
    await handle.chmod(0o600);
    await handle.sync();
    await handle.close();
    await rename(temp, target);
  } catch (err) {
    await handle.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined);
    throw new KilnError(`cannot write the Docker config ${target}: ${(err as Error).message}`);
  }
}

async function resolveSymlink(file: string): Promise<string> {
  try {
    return await realpath(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new KilnError(`cannot resolve the Docker config ${file}: ${(err as Error).message}`);
    }
  }
  // Missing, or a dangling symlink: write where the link points.
  try {
    const stat = await lstat(file);
    if (stat.isSymbolicLink()) return resolve(dirname(file), await readlink(file));
  } catch {
    // does not exist at all
  }
  return file;
}
