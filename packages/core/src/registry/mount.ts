// Cross-repository mounts: the repositories this client has seen each blob in (pulled from,
// pushed to, found by a HEAD), so that a push to another repository of the same registry can ask
// for a mount instead of sending the bytes again.

import { repoName } from './session.js';
import type { RepoRef } from './types.js';

/** Mounts tried per blob before uploading it: each refused one costs a round trip. */
const MAX_MOUNT_CANDIDATES = 3;

export class BlobSightings {
  /** digest -> repositories ('domain/path') it is known to be in. */
  private readonly known = new Map<string, Set<string>>();

  remember(digest: string, repo: RepoRef): void {
    let s = this.known.get(digest);
    if (!s) this.known.set(digest, (s = new Set()));
    s.add(repoName(repo));
  }

  /**
   * Repository paths of `repo`'s registry to mount `digest` from: `explicit` first ('path' or
   * 'domain/path'; other registries' are dropped, a mount cannot cross registries), then where
   * this client saw the blob.
   */
  mountCandidates(repo: RepoRef, digest: string, explicit: string[]): string[] {
    const out: string[] = [];
    const add = (path: string): void => {
      if (path !== repo.path && path !== '' && !out.includes(path)) out.push(path);
    };
    for (const m of explicit) {
      const s = m.replace(/^\/+|\/+$/g, '');
      if (s.startsWith(`${repo.domain}/`)) add(s.slice(repo.domain.length + 1));
      else {
        const first = s.split('/')[0] ?? '';
        const looksLikeHost = s.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
        if (!looksLikeHost) add(s);
      }
    }
    for (const loc of this.known.get(digest) ?? []) {
      if (loc.startsWith(`${repo.domain}/`)) add(loc.slice(repo.domain.length + 1));
    }
    return out.slice(0, MAX_MOUNT_CANDIDATES);
  }
}
