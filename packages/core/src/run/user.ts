// Who a RUN runs as: the USER string resolved through the rootfs's /etc/passwd and /etc/group with
// BuildKit's rules (moby/sys/user GetExecUser as BuildKit calls it), so `id` inside prints what it
// prints under docker build.

import { KilnError } from '../errors.js';

export interface ProcessUser {
  uid: number;
  gid: number;
  /** Supplementary groups, the primary gid first (as BuildKit passes them to runc). */
  additionalGids: number[];
}

/** Reads a file of the rootfs (absolute path inside it); undefined when it does not exist. */
export type RootfsReader = (path: string) => Promise<Buffer | undefined>;

const NUMERIC = /^\d+$/;

/** The records of /etc/passwd or /etc/group: one array of colon-separated fields per line. */
export function parseUserDatabase(content: Buffer | undefined): string[][] {
  if (!content) return [];
  return content
    .toString('utf8')
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('#'))
    .map((line) => line.split(':'));
}

/**
 * `""` is root; `uid:gid` with numbers needs no files; a name (or a uid with a passwd entry) takes
 * its primary group and every group that lists the name; a uid without an entry gets gid 0;
 * `user:group` takes that group and no supplementary ones. Unknown names are errors.
 */
export async function resolveProcessUser(spec: string, read: RootfsReader): Promise<ProcessUser> {
  const [userPart = '', groupPart] = (spec === '' ? '0' : spec).split(':', 2) as [string, string?];
  const withPrimary = (u: { uid: number; gid: number }, extra: number[]): ProcessUser => ({
    ...u,
    additionalGids: [u.gid, ...extra.filter((g) => g !== u.gid)],
  });
  if (NUMERIC.test(userPart) && groupPart !== undefined && NUMERIC.test(groupPart)) {
    return withPrimary({ uid: Number(userPart), gid: Number(groupPart) }, []);
  }

  const passwd = parseUserDatabase(await read('/etc/passwd'));
  const entry = passwd.find((f) => (NUMERIC.test(userPart) ? f[2] === userPart : f[0] === userPart));
  if (!entry && !NUMERIC.test(userPart)) {
    throw new KilnError(`unable to find user ${userPart}: no matching entries in passwd file`);
  }
  const uid = entry ? Number(entry[2]) : Number(userPart);
  let gid = entry ? Number(entry[3]) : 0;
  const name = entry?.[0];

  if (groupPart !== undefined && groupPart !== '') {
    if (NUMERIC.test(groupPart)) gid = Number(groupPart);
    else {
      const group = parseUserDatabase(await read('/etc/group')).find((f) => f[0] === groupPart);
      if (!group) throw new KilnError(`unable to find group ${groupPart}: no matching entries in group file`);
      gid = Number(group[2]);
    }
    return withPrimary({ uid, gid }, []);
  }
  const supplementary = name
    ? parseUserDatabase(await read('/etc/group'))
        .filter((f) => (f[3] ?? '').split(',').map((m) => m.trim()).includes(name))
        .map((f) => Number(f[2]))
    : [];
  return withPrimary({ uid, gid }, supplementary);
}
