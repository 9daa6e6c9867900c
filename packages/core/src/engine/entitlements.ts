// What a build may do beyond the sandbox, as `docker buildx build --allow` grants it:
// `security.insecure` lets `RUN --security=insecure` run privileged; `network.host` is accepted
// for the same Dockerfiles and workflows, and grants nothing more (RUN uses the host's network
// by default here).

import { KilnError } from '../errors.js';

export const ENTITLEMENTS = ['security.insecure', 'network.host'] as const;
export type Entitlement = (typeof ENTITLEMENTS)[number];

/** `--allow` values, each one or several separated by commas. */
export function parseEntitlements(values: readonly string[], flag = '--allow'): Entitlement[] {
  const out: Entitlement[] = [];
  for (const value of values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean)) {
    if (!(ENTITLEMENTS as readonly string[]).includes(value)) {
      throw new KilnError(`${flag} ${value}: unknown entitlement (use ${ENTITLEMENTS.join(' or ')})`);
    }
    if (!out.includes(value as Entitlement)) out.push(value as Entitlement);
  }
  return out;
}
