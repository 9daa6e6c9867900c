// Rootless RUN: without root and without sudo, the RUN helper runs in a user namespace of its own
// (with a mount namespace), where it is root over the ids mapped to it. The invoking user is root
// inside; the user's subordinate ids (/etc/subuid, /etc/subgid, mapped by newuidmap/newgidmap)
// become ids 1 and up, so images whose files belong to other users unpack and run as they are.
// Without subordinate ids only root exists inside: files of other owners are unpacked as root's,
// and a step whose USER is not root cannot run.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { KilnError } from '../errors.js';

export interface IdRange {
  inside: number;
  outside: number;
  count: number;
}

/** The uid and gid maps of this process (/proc/self/uid_map), and whether they are a user namespace's. */
export interface IdMapping {
  inUserNamespace: boolean;
  uids: IdRange[];
  gids: IdRange[];
}

function parseIdMap(text: string): IdRange[] {
  return text
    .split('\n')
    .map((line) => line.trim().split(/\s+/).map(Number))
    .filter((f) => f.length === 3 && f.every((n) => Number.isFinite(n)))
    .map(([inside, outside, count]) => ({ inside: inside!, outside: outside!, count: count! }));
}

let mappingHere: IdMapping | undefined;

/** This process's id mapping (the initial namespace maps every id to itself). */
export function idMapping(): IdMapping {
  if (mappingHere) return mappingHere;
  const read = (f: string) => {
    try {
      return parseIdMap(readFileSync(f, 'utf8'));
    } catch {
      return [];
    }
  };
  const uids = read('/proc/self/uid_map');
  const gids = read('/proc/self/gid_map');
  const identity = (r: IdRange[]) => r.length === 1 && r[0]!.inside === 0 && r[0]!.outside === 0 && r[0]!.count === 4294967295;
  mappingHere = { inUserNamespace: uids.length > 0 && !(identity(uids) && identity(gids)), uids, gids };
  return mappingHere;
}

export function isMapped(ranges: readonly IdRange[], id: number): boolean {
  return ranges.some((r) => id >= r.inside && id < r.inside + r.count);
}

/** The first range of /etc/subuid or /etc/subgid that belongs to the user (by name or by id). */
export function subordinateRange(content: string, user: { name: string; id: number }): { start: number; count: number } | undefined {
  for (const line of content.split('\n')) {
    const [owner, start, count] = line.trim().split(':');
    if (owner !== user.name && owner !== String(user.id)) continue;
    const s = Number(start);
    const c = Number(count);
    if (Number.isInteger(s) && Number.isInteger(c) && c > 0) return { start: s, count: c };
  }
  return undefined;
}

export interface RootlessLaunch {
  /** The command that starts a process in a new user and mount namespace (the helper's argv follows). */
  prefix: string[];
  /** Set when only the invoking user is mapped: what cannot work, for a warning. */
  limitation?: string;
}

function onPath(tool: string): boolean {
  return spawnSync(tool, ['--help'], { stdio: 'ignore' }).error === undefined;
}

let launch: RootlessLaunch | null | undefined;

/**
 * How to start the helper rootless here, or undefined when user namespaces are not allowed
 * (a kernel or AppArmor rule against unprivileged ones, or no `unshare`).
 */
export function rootlessLaunch(): RootlessLaunch | undefined {
  if (launch !== undefined) return launch ?? undefined;
  const probe = spawnSync('unshare', ['--map-root-user', '--mount', 'true'], { stdio: 'ignore' });
  if (probe.status !== 0) {
    launch = null;
    return undefined;
  }
  const base = ['unshare', '--map-root-user', '--mount', '--propagation', 'private'];
  const { username, uid, gid } = userInfo();
  const read = (f: string) => {
    try {
      return readFileSync(f, 'utf8');
    } catch {
      return '';
    }
  };
  const subUids = subordinateRange(read('/etc/subuid'), { name: username, id: uid });
  const subGids = subordinateRange(read('/etc/subgid'), { name: username, id: gid });
  const mappers = onPath('newuidmap') && onPath('newgidmap');
  if (subUids && subGids && mappers) {
    const full = [...base, '--map-users', `${subUids.start},1,${subUids.count}`, '--map-groups', `${subGids.start},1,${subGids.count}`];
    // newuidmap may still refuse (a setuid bit missing): then fall back to the single mapping.
    if (spawnSync(full[0]!, [...full.slice(1), 'true'], { stdio: 'ignore' }).status === 0) {
      launch = { prefix: full };
      return launch;
    }
  }
  const why = !subUids || !subGids ? `${username} has no subordinate ids in /etc/subuid and /etc/subgid` : 'newuidmap and newgidmap (package uidmap) are not usable';
  launch = {
    prefix: base,
    limitation:
      `rootless RUN maps only ${username} (as root) because ${why}: files of other owners are unpacked as root's and steps cannot run as another USER; ` +
      `for the full range, install uidmap and add ids, e.g. \`sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${username}\``,
  };
  return launch;
}

/** In a single-id namespace a step can run only as root: say so before runc fails obscurely. */
export function requireMapped(mapping: IdMapping, user: { uid: number; gid: number }, what: string): void {
  if (!mapping.inUserNamespace) return;
  if (isMapped(mapping.uids, user.uid) && isMapped(mapping.gids, user.gid)) return;
  throw new KilnError(
    `${what} needs uid ${user.uid} and gid ${user.gid}, which rootless RUN cannot map here (only ids ${describe(mapping.uids)} exist): ` +
      'add subordinate ids for this user (`sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 USER`, package uidmap), or run kiln as root or with passwordless sudo',
  );
}

function describe(ranges: readonly IdRange[]): string {
  return ranges.map((r) => (r.count === 1 ? `${r.inside}` : `${r.inside}-${r.inside + r.count - 1}`)).join(', ');
}
