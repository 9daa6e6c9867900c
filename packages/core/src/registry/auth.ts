// Registry authentication: WWW-Authenticate challenges, Basic credentials, and bearer tokens from
// Docker's token service (https://distribution.github.io/distribution/spec/auth/token/): GET the
// realm with service and scope(s), Basic auth when there are credentials, or the OAuth2 POST with
// a refresh token (identity token); tokens reused per (registry, realm, service, scopes) until
// `expires_in` runs out. Secrets never leave this file except as Authorization headers.

import type { RawResponse } from './transport.js';
import { contentType, drain, readBody } from './transport.js';
import { RegistryAuthError, RegistryError } from './errors.js';
import type { CredentialLookup, Credentials } from './types.js';

export interface Challenge {
  /** Lower-cased: 'bearer', 'basic', … */
  scheme: string;
  /** Parameter names lower-cased: realm, service, scope, error. */
  params: Record<string, string>;
}

const TOKEN_CHAR = /[A-Za-z0-9!#$%&'*+.^_`|~-]/;

/**
 * Parses a WWW-Authenticate value (RFC 7235): one or more challenges, each a scheme and
 * comma-separated auth-params, quoted strings with backslash escapes.
 */
export function parseWwwAuthenticate(value: string): Challenge[] {
  const out: Challenge[] = [];
  let current: Challenge | undefined;
  let i = 0;
  const n = value.length;
  const skipWs = (): void => {
    while (i < n && (value[i] === ' ' || value[i] === '\t')) i++;
  };
  const readToken = (): string => {
    const start = i;
    while (i < n && TOKEN_CHAR.test(value[i] as string)) i++;
    return value.slice(start, i);
  };
  const readValue = (): string => {
    if (value[i] === '"') {
      i++;
      let s = '';
      while (i < n && value[i] !== '"') {
        if (value[i] === '\\' && i + 1 < n) i++;
        s += value[i];
        i++;
      }
      i++; // the closing quote
      return s;
    }
    const start = i;
    while (i < n && value[i] !== ',' && value[i] !== ' ' && value[i] !== '\t') i++;
    return value.slice(start, i);
  };
  while (i < n) {
    skipWs();
    if (i >= n) break;
    if (value[i] === ',') {
      i++;
      continue;
    }
    const name = readToken();
    if (name === '') {
      i++; // a stray character
      continue;
    }
    skipWs();
    if (value[i] === '=' && current !== undefined) {
      i++;
      if (value[i] === '=' || i >= n || value[i] === ',') {
        // a token68 ("Basic dGVzdA=="): nothing to keep
        while (i < n && value[i] === '=') i++;
        continue;
      }
      skipWs();
      current.params[name.toLowerCase()] = readValue();
      continue;
    }
    current = { scheme: name.toLowerCase(), params: {} };
    out.push(current);
  }
  return out;
}

/** The challenge to answer: Bearer when offered, else Basic, else the first. */
export function preferredChallenge(challenges: Challenge[]): Challenge | undefined {
  return challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic') ?? challenges[0];
}

/** Sends a request to a token server (with the client's retries and agents). */
export type TokenRequester = (req: {
  method: 'GET' | 'POST';
  url: URL;
  headers: Record<string, string>;
  body?: Buffer;
  what: string;
}) => Promise<RawResponse>;

export interface AuthenticatorOptions {
  credentials?: CredentialLookup;
  request: TokenRequester;
  /** Whether credentials may be sent to this plain-http realm. */
  allowPlainHttpRealm: (realm: URL, registryDomain: string) => boolean;
}

interface CachedToken {
  token: string;
  /** Milliseconds since the epoch after which it is not used. */
  expiresAt: number;
}

/** The scope a token is asked for: `repository:PATH:pull` or `repository:PATH:pull,push`. */
export function repositoryScope(path: string, actions: 'pull' | 'pull,push'): string {
  return `repository:${path}:${actions}`;
}

const TOKEN_BODY_LIMIT = 1024 * 1024;

export class Authenticator {
  private readonly challenges = new Map<string, Challenge>();
  private readonly creds = new Map<string, Promise<Credentials | undefined>>();
  private readonly tokens = new Map<string, CachedToken>();
  private readonly inflight = new Map<string, Promise<CachedToken>>();
  private readonly secrets = new Set<string>();
  /** Token requests made (for tests and diagnostics). */
  tokenRequests = 0;

  constructor(private readonly opts: AuthenticatorOptions) {}

  /** Records what the registry asked for (from its /v2/ ping or a 401). */
  setChallenge(domain: string, wwwAuthenticate: string | undefined): Challenge | undefined {
    if (wwwAuthenticate === undefined) return undefined;
    const ch = preferredChallenge(parseWwwAuthenticate(wwwAuthenticate));
    if (ch) this.challenges.set(domain, ch);
    return ch;
  }

  challenge(domain: string): Challenge | undefined {
    return this.challenges.get(domain);
  }

  /** The credentials for a registry (looked up once per client). */
  credentials(domain: string): Promise<Credentials | undefined> {
    let p = this.creds.get(domain);
    if (!p) {
      const lookup = this.opts.credentials;
      p = (lookup ? lookup(domain) : Promise.resolve(undefined)).then((c) => {
        if (!c) return undefined;
        for (const s of [c.password, c.identityToken, c.registryToken]) if (s) this.secrets.add(s);
        if (c.username !== undefined && c.password !== undefined) {
          this.secrets.add(Buffer.from(`${c.username}:${c.password}`).toString('base64'));
        }
        const has = c.password !== undefined || c.identityToken !== undefined || c.registryToken !== undefined;
        return has ? c : undefined;
      });
      this.creds.set(domain, p);
    }
    return p;
  }

  async hasCredentials(domain: string): Promise<boolean> {
    return (await this.credentials(domain)) !== undefined;
  }

  /** The Authorization header for a request needing `scopes`, or undefined (anonymous). */
  async authorization(domain: string, scopes: string[]): Promise<string | undefined> {
    const creds = await this.credentials(domain);
    if (creds?.registryToken) return `Bearer ${creds.registryToken}`;
    const ch = this.challenges.get(domain);
    if (!ch) return undefined;
    if (ch.scheme === 'basic') {
      if (creds?.username !== undefined && creds.password !== undefined) return basicHeader(creds.username, creds.password);
      return undefined;
    }
    if (ch.scheme === 'bearer') {
      const t = await this.token(domain, ch, scopes, creds);
      return `Bearer ${t.token}`;
    }
    return undefined;
  }

  /** Forgets the tokens for `scopes` (after a 401 the registry no longer takes them). */
  invalidate(domain: string, scopes: string[]): void {
    const ch = this.challenges.get(domain);
    if (ch) this.tokens.delete(this.cacheKey(domain, ch, scopes));
  }

  /** Replaces every secret this authenticator knows with '***'. */
  redact(text: string): string {
    let out = text;
    for (const s of this.secrets) if (s.length >= 3) out = out.split(s).join('***');
    return out;
  }

  private cacheKey(domain: string, ch: Challenge, scopes: string[]): string {
    return [domain, ch.params['realm'] ?? '', ch.params['service'] ?? '', ...[...new Set(scopes)].sort()].join('\n');
  }

  private token(domain: string, ch: Challenge, scopes: string[], creds: Credentials | undefined): Promise<CachedToken> {
    const key = this.cacheKey(domain, ch, scopes);
    const cached = this.tokens.get(key);
    if (cached && cached.expiresAt > Date.now()) return Promise.resolve(cached);
    let p = this.inflight.get(key);
    if (!p) {
      p = this.fetchToken(domain, ch, scopes, creds)
        .then((t) => {
          this.tokens.set(key, t);
          return t;
        })
        .finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    return p;
  }

  private async fetchToken(domain: string, ch: Challenge, scopes: string[], creds: Credentials | undefined): Promise<CachedToken> {
    const repository = repoOfScopes(scopes);
    const realmText = ch.params['realm'];
    let realm: URL;
    try {
      if (!realmText) throw new Error('no realm');
      realm = new URL(realmText);
      if (realm.protocol !== 'https:' && realm.protocol !== 'http:') throw new Error('not http(s)');
    } catch {
      throw new RegistryAuthError(
        `registry ${domain} asked for a bearer token but its WWW-Authenticate challenge has no usable realm ` +
          `(${JSON.stringify(realmText ?? '')}); the registry is misconfigured`,
        { registry: domain, repository },
      );
    }
    const realmShown = `${realm.origin}${realm.pathname}`;
    const sendsSecret = creds !== undefined;
    if (sendsSecret && realm.protocol === 'http:' && !this.opts.allowPlainHttpRealm(realm, domain)) {
      throw new RegistryAuthError(
        `registry ${domain} sends logins to the plain-HTTP token service ${realmShown}; refusing to send credentials ` +
          `without TLS (list ${realm.host} as an insecure registry if this is intended)`,
        { registry: domain, repository },
      );
    }
    const service = ch.params['service'];
    const what = `getting a token for ${domain}${repository ? `/${repository}` : ''} from ${realmShown}`;
    this.tokenRequests++;

    let res: RawResponse;
    if (creds?.identityToken) {
      const form = new URLSearchParams();
      form.set('grant_type', 'refresh_token');
      form.set('refresh_token', creds.identityToken);
      form.set('client_id', 'kiln');
      if (service) form.set('service', service);
      if (scopes.length > 0) form.set('scope', scopes.join(' '));
      res = await this.opts.request({
        method: 'POST',
        url: realm,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: Buffer.from(form.toString()),
        what,
      });
      // Token servers without the OAuth2 POST (GCR: 404, Artifactory: 401, ACR: 400) get the GET
      // form, when there is a username and password for it (an anonymous GET would hide the refusal).
      if ([400, 401, 404, 405].includes(res.status) && creds.username !== undefined && creds.password !== undefined) {
        await drain(res);
        res = await this.getToken(realm, service, scopes, creds, what);
      }
    } else {
      res = await this.getToken(realm, service, scopes, creds, what);
    }

    const { bytes, tooLarge } = await readBody(res, TOKEN_BODY_LIMIT);
    if (res.status === 401 || res.status === 403) {
      const detail = this.redact(errorSummary(bytes));
      throw new RegistryAuthError(
        sendsSecret
          ? `authentication failed for ${domain}${repository ? `/${repository}` : ''}: the token service ${realmShown} rejected the credentials ` +
              `(HTTP ${res.status}${detail ? `: ${detail}` : ''}); check the username and password or token, then run kiln login ${domain}`
          : `authentication required: ${domain} does not give anonymous access${repository ? ` to ${repository}` : ''} ` +
              `(token service ${realmShown} answered HTTP ${res.status}${detail ? `: ${detail}` : ''}); run kiln login ${domain}`,
        { registry: domain, repository, status: res.status },
      );
    }
    if (res.status !== 200) {
      const detail = this.redact(errorSummary(bytes));
      throw new RegistryError(`${what} failed: HTTP ${res.status}${detail ? ` (${detail})` : ''}`, {
        registry: domain,
        repository,
        status: res.status,
      });
    }
    if (tooLarge) throw new RegistryError(`${what} failed: the answer is larger than 1 MiB`, { registry: domain, repository });
    let doc: { token?: unknown; access_token?: unknown; expires_in?: unknown; issued_at?: unknown };
    try {
      doc = JSON.parse(bytes.toString('utf8')) as typeof doc;
    } catch {
      const ct = contentType(res) ?? 'no content type';
      throw new RegistryError(`${what} failed: the answer is not JSON (${ct}); is ${realm.host} a token service?`, {
        registry: domain,
        repository,
      });
    }
    const token = typeof doc.token === 'string' && doc.token !== '' ? doc.token : doc.access_token;
    if (typeof token !== 'string' || token === '') {
      throw new RegistryError(`${what} failed: the answer has neither "token" nor "access_token"`, { registry: domain, repository });
    }
    this.secrets.add(token);
    // Spec: expires_in defaults to 60 s, and tokens should never have less than 60 s to live.
    const lifetime = Math.max(60, typeof doc.expires_in === 'number' && doc.expires_in > 0 ? doc.expires_in : 60) * 1000;
    const margin = Math.min(10_000, lifetime / 10);
    return { token, expiresAt: Date.now() + lifetime - margin };
  }

  private getToken(
    realm: URL,
    service: string | undefined,
    scopes: string[],
    creds: Credentials | undefined,
    what: string,
  ): Promise<RawResponse> {
    const url = new URL(realm.href);
    if (service) url.searchParams.set('service', service);
    for (const s of scopes) url.searchParams.append('scope', s);
    const headers: Record<string, string> = {};
    if (creds?.username !== undefined && creds.password !== undefined) {
      headers['authorization'] = basicHeader(creds.username, creds.password);
      url.searchParams.set('account', creds.username);
    }
    return this.opts.request({ method: 'GET', url, headers, what });
  }
}

function basicHeader(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

function repoOfScopes(scopes: string[]): string | undefined {
  const s = scopes[0];
  if (!s?.startsWith('repository:')) return undefined;
  const rest = s.slice('repository:'.length);
  const colon = rest.lastIndexOf(':');
  return colon > 0 ? rest.slice(0, colon) : rest;
}

/** A short, printable summary of an error body: registry/OAuth JSON errors, else the first line of text. */
export function errorSummary(bytes: Buffer): string {
  const text = bytes.toString('utf8').trim();
  if (text === '') return '';
  try {
    const j = JSON.parse(text) as Record<string, unknown>;
    const errs = j['errors'];
    if (Array.isArray(errs)) {
      return errs
        .map((e) => {
          const o = e as Record<string, unknown>;
          return [o['code'], o['message']].filter((x) => typeof x === 'string' && x !== '').join(': ');
        })
        .filter((s) => s !== '')
        .join('; ');
    }
    const parts = [j['error'], j['error_description'], j['details'], j['message']].filter((x) => typeof x === 'string' && x !== '');
    if (parts.length > 0) return parts.join(': ');
  } catch {
    // not JSON
  }
  if (/^\s*<(?:!doctype|html)/i.test(text)) return 'an HTML page';
  const line = text.split('\n')[0] ?? '';
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}

