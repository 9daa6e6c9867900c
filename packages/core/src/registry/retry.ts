// When to try again. 5xx and 429 answers, transient network failures and failures of a whole
// operation (a corrupt download, an upload out of step) are retried with exponential backoff and
// jitter, Retry-After honoured up to a cap; anything else fails at once. When the retries run
// out, the last failure becomes a RegistryError that says what to do.

import type { Authenticator } from './auth.js';
import { RegistryError } from './errors.js';
import type { RegistryErrorEntry } from './errors.js';
import { ctxDetails, readErrorBody } from './failures.js';
import type { Ctx } from './failures.js';
import { TransportError, backoffDelay, header, parseRetryAfter, registryApiHost, sleep } from './transport.js';
import type { RawResponse } from './transport.js';
import type { RetryEvent } from './types.js';

/** An answer worth retrying (5xx, 429): body read for the message the last one gives. */
export class RetryableStatus extends Error {
  constructor(
    readonly status: number,
    readonly retryAfterMs: number | undefined,
    readonly detail: string,
    readonly entries: RegistryErrorEntry[],
  ) {
    super(`HTTP ${status}`);
  }
}

/** A failure of a whole operation worth retrying (corrupt download, upload out of step). */
export class RetryableFailure extends Error {
  constructor(
    readonly reason: string,
    /** The error to report when no attempt succeeded. */
    readonly final: (attempts: number) => Error,
  ) {
    super(reason);
  }
}

/** A 5xx or 429 answer, read into the RetryableStatus that asks for another attempt. */
export async function retryableStatus(res: RawResponse, auth: Authenticator): Promise<RetryableStatus> {
  const { summary, entries } = await readErrorBody(res, auth);
  return new RetryableStatus(res.status, parseRetryAfter(header(res, 'retry-after')), summary, entries);
}

export interface RetrySettings {
  /** Retries after the first attempt. */
  retries: number;
  baseDelayMs: number;
  /** Longest Retry-After waited for; longer ones are clamped. */
  maxRetryAfterMs: number;
  onRetry: (e: RetryEvent) => void;
}

export class RetryPolicy {
  constructor(private readonly settings: RetrySettings) {}

  /** Runs `fn` until it succeeds, fails in a way not worth retrying, or the retries run out. */
  async run<T>(ctx: Ctx, fn: () => Promise<T>): Promise<T> {
    const { retries, baseDelayMs, maxRetryAfterMs } = this.settings;
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        let reason: string | undefined;
        let retryAfter: number | undefined;
        if (e instanceof RetryableStatus) {
          reason = `HTTP ${e.status}`;
          retryAfter = e.retryAfterMs;
        } else if (e instanceof TransportError && e.retryable) reason = e.code;
        else if (e instanceof RetryableFailure) reason = e.reason;
        if (reason === undefined) throw finalError(e, ctx, attempt + 1);
        if (attempt >= retries) throw finalError(e, ctx, attempt + 1);
        const delay = retryAfter !== undefined ? Math.min(retryAfter, maxRetryAfterMs) : backoffDelay(attempt, baseDelayMs);
        this.settings.onRetry({ type: 'retry', what: ctx.action, attempt: attempt + 1, delayMs: delay, reason });
        await sleep(delay);
      }
    }
  }
}

/** What to throw once retrying is over: retry signals and network failures become RegistryErrors. */
function finalError(e: unknown, ctx: Ctx, attempts: number): unknown {
  const details = ctxDetails(ctx);
  const tries = attempts > 1 ? ` (${attempts} attempts)` : '';
  if (e instanceof RetryableStatus) {
    const detail = e.detail ? ` (${e.detail})` : '';
    const message =
      e.status === 429
        ? `${ctx.action} failed: the registry keeps answering 429 Too Many Requests${detail}${tries}; it is rate limiting — wait and try again, or log in (kiln login ${ctx.domain}) for a higher limit`
        : `${ctx.action} failed: the registry answered HTTP ${e.status}${detail}${tries}; the registry is having trouble — try again later`;
    return new RegistryError(message, { ...details, status: e.status, errors: e.entries });
  }
  if (e instanceof RetryableFailure) return e.final(attempts);
  if (e instanceof TransportError) {
    const err = new RegistryError(transportMessage(e, ctx, tries), details);
    // Kept for ping(), which falls back to plain HTTP on a TLS protocol failure.
    err.cause = e;
    return err;
  }
  return e;
}

function transportMessage(e: TransportError, ctx: Ctx, tries: string): string {
  const host = registryApiHost(ctx.domain);
  switch (e.kind) {
    case 'dns':
      return `${ctx.action} failed: cannot resolve the host ${host} (${e.code}); check the registry name and the network`;
    case 'tls-verify':
      return (
        `${ctx.action} failed: the TLS certificate of ${host} is not trusted (${e.code}: ${e.message}); ` +
        `put the CA certificate in /etc/docker/certs.d/${host}/ca.crt or NODE_EXTRA_CA_CERTS, or list ${ctx.domain} as an insecure registry`
      );
    case 'tls-protocol':
      return (
        `${ctx.action} failed: the TLS handshake with ${host} failed (${e.code}: ${e.message}); if the registry speaks plain HTTP, ` +
        `list ${ctx.domain} as an insecure registry`
      );
    default:
      return `${ctx.action} failed: cannot reach ${host}: ${e.code} (${e.message})${tries}; check that the registry is running and reachable`;
  }
}
