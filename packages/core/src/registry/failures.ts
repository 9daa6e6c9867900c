// Registry answers that are not the expected one, turned into errors a user can act on: the
// registry's `{"errors":[…]}` body, 401 and 403 told apart (no login, a rejected login, no
// permission), HTML pages from proxies and login portals. Text that came from the registry goes
// through the authenticator's redact(), so a secret it echoes never reaches an error.

import { errorSummary } from './auth.js';
import type { Authenticator } from './auth.js';
import { RegistryAuthError, RegistryError } from './errors.js';
import type { RegistryErrorDetails, RegistryErrorEntry } from './errors.js';
import { contentType, header, readBody } from './transport.js';
import type { RawResponse } from './transport.js';

/** Most of an error body that is read: any registry's message fits. */
export const ERROR_BODY_LIMIT = 64 * 1024;

/** What an operation is doing, for errors and retry events. */
export interface Ctx {
  /** 'pulling manifest "v1" of 127.0.0.1:5000/app' */
  action: string;
  domain: string;
  repository?: string;
  /** 'pull' or 'push': what a 403 refused. */
  access?: 'pull' | 'push';
}

/** The registry and repository of an operation, as error details. */
export function ctxDetails(ctx: Ctx): RegistryErrorDetails {
  return { registry: ctx.domain, ...(ctx.repository ? { repository: ctx.repository } : {}) };
}

function parseErrorEntries(bytes: Buffer): RegistryErrorEntry[] {
  try {
    const j = JSON.parse(bytes.toString('utf8')) as { errors?: unknown };
    if (!Array.isArray(j.errors)) return [];
    return j.errors
      .map((e) => e as Record<string, unknown>)
      .map((e) => ({ code: typeof e['code'] === 'string' ? e['code'] : '', message: typeof e['message'] === 'string' ? e['message'] : '' }))
      .filter((e) => e.code !== '' || e.message !== '');
  } catch {
    return [];
  }
}

/** The registry's `{"errors":[…]}` entries, with any secret of ours masked. */
export function errorEntries(bytes: Buffer, auth: Authenticator): RegistryErrorEntry[] {
  return parseErrorEntries(bytes).map((e) => ({ code: auth.redact(e.code), message: auth.redact(e.message) }));
}

/** An error answer's body as a one-line summary and entries, both masked. */
export async function readErrorBody(res: RawResponse, auth: Authenticator): Promise<{ summary: string; entries: RegistryErrorEntry[] }> {
  let bytes: Buffer = Buffer.alloc(0);
  try {
    bytes = (await readBody(res, ERROR_BODY_LIMIT)).bytes;
  } catch {
    // a body cut short: the status says enough
  }
  return { summary: auth.redact(errorSummary(bytes)), entries: errorEntries(bytes, auth) };
}

/** An error for an answer that is not the expected one. */
export async function failure(res: RawResponse, ctx: Ctx, auth: Authenticator): Promise<RegistryError> {
  const { summary, entries } = await readErrorBody(res, auth);
  const ct = contentType(res);
  const detail = summary ? ` (${summary})` : '';
  const details = { ...ctxDetails(ctx), status: res.status, errors: entries };
  const hasCreds = await auth.hasCredentials(ctx.domain).catch(() => false);
  // With credentials, a 401 saying insufficient_scope is a refused permission, not a bad login.
  const insufficientScope = /error="?insufficient_scope/i.test(header(res, 'www-authenticate') ?? '');
  if (res.status === 401 && !(hasCreds && insufficientScope)) {
    return new RegistryAuthError(
      hasCreds
        ? `${ctx.action} failed: authentication failed: ${ctx.domain} rejected the credentials${detail}; check the username and password or token, then run kiln login ${ctx.domain}`
        : `${ctx.action} failed: authentication required${detail}: run kiln login ${ctx.domain}`,
      details,
    );
  }
  if (res.status === 403 || res.status === 401) {
    const who = hasCreds ? 'the logged-in account' : 'anonymous users';
    const what = ctx.access ?? 'access';
    return new RegistryAuthError(
      `${ctx.action} failed: access denied${detail}: ${who} may not ${what} ${ctx.repository ? `${ctx.domain}/${ctx.repository}` : ctx.domain}; ` +
        `check the repository name and your permissions${hasCreds ? '' : `, or run kiln login ${ctx.domain}`}`,
      details,
    );
  }
  if (ct === 'text/html' || summary === 'an HTML page') {
    return new RegistryError(
      `${ctx.action} failed: the server answered HTTP ${res.status} with an HTML page instead of the registry API; ` +
        `is ${ctx.domain} a container registry (or is a proxy or login page in the way)?`,
      details,
    );
  }
  return new RegistryError(`${ctx.action} failed: the registry answered HTTP ${res.status}${detail}`, details);
}
