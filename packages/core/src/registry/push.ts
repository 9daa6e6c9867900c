// Pushing an image from the store: per repository, every blob (config and layers, in parallel
// up to the client's concurrency) HEADed, mounted or uploaded, then an index's child manifests by
// digest, then the manifest under each tag — last, so a failed push tags nothing.

import { KilnError } from '../errors.js';
import { sha256Digest } from '../oci/digest.js';
import { collectImageBlobs } from '../oci/content.js';
import type { ImageReference } from '../reference/reference.js';
import type { BlobFiles, BlobReader } from '../contracts/blobs.js';
import { repositoryScope } from './auth.js';
import { allOrFirstError } from './concurrency.js';
import { RegistryError } from './errors.js';
import { failure } from './failures.js';
import type { Ctx } from './failures.js';
import { manifestUrl, repoName } from './session.js';
import type { RegistrySession } from './session.js';
import { drain, header } from './transport.js';
import { TransferReport } from './progress.js';
import type { PushResult, RepoRef, TransferListener } from './types.js';
import type { Uploader } from './upload.js';

/** PUTs a manifest under a tag or its digest; returns its digest. */
export async function putManifest(s: RegistrySession, repo: RepoRef, reference: string, bytes: Buffer, mediaType: string): Promise<string> {
  const reg = await s.registry(repo.domain);
  const digest = sha256Digest(bytes);
  const ctx: Ctx = {
    action: `pushing manifest ${reference === digest ? digest : JSON.stringify(reference)} to ${repoName(repo)}`,
    domain: repo.domain,
    repository: repo.path,
    access: 'push',
  };
  const res = await s.call(reg, {
    method: 'PUT',
    url: manifestUrl(reg, repo, reference),
    headers: { 'content-type': mediaType },
    body: bytes,
    scopes: [repositoryScope(repo.path, 'pull,push')],
    ctx,
  });
  if (res.status !== 201 && res.status !== 200 && res.status !== 202) throw await failure(res, ctx, s.auth);
  await drain(res);
  const claimed = header(res, 'docker-content-digest');
  if (claimed && claimed.startsWith('sha256:') && claimed !== digest) {
    throw new RegistryError(`${ctx.action} failed: the registry stored it as ${claimed}, but its bytes hash to ${digest}`, {
      registry: repo.domain,
      repository: repo.path,
    });
  }
  return digest;
}

/**
 * Pushes the image `manifestDigest` (a manifest or an index) to every reference. Later
 * repositories of the same registry mount what earlier ones received; `mountSources` names, per
 * blob, repositories ('domain/path') to mount it from first. `onProgress` hears of
 * every blob and manifest of each repository (start, bytes as they stream, done).
 */
export async function pushImage(
  s: RegistrySession,
  uploader: Uploader,
  store: BlobReader & BlobFiles,
  manifestDigest: string,
  refs: ImageReference[],
  options: {
    mountFrom?: string[];
    mountSources?: ReadonlyMap<string, readonly string[]>;
    /** Brings a blob the store lacks into it, when neither the target has it nor a mount gives it. */
    fetchMissing?: (blob: { digest: string; size: number }) => Promise<void>;
    onProgress?: TransferListener;
  },
): Promise<PushResult> {
  const listener = options.onProgress;
  if (refs.length === 0) throw new KilnError('push: no image reference to push to');
  const { root, blobs } = await collectImageBlobs(store, manifestDigest);
  for (const r of refs) {
    if (r.digest !== undefined && r.digest !== manifestDigest) {
      throw new KilnError(
        `cannot push ${manifestDigest} as ${repoName(r)}@${r.digest}: a reference with a digest names that exact content; drop the digest or push the image it names`,
      );
    }
  }
  const content = blobs.filter((b) => b.role === 'config' || b.role === 'layer');
  // Children before their parents (collectImageBlobs lists parents first): a registry may refuse
  // an index whose manifests it lacks.
  const children = blobs.filter((b) => (b.role === 'manifest' || b.role === 'index') && b.digest !== root.digest).reverse();
  const groups = new Map<string, { repo: RepoRef; refs: ImageReference[] }>();
  for (const r of refs) {
    const k = repoName(r);
    const g = groups.get(k) ?? { repo: { domain: r.domain, path: r.path }, refs: [] };
    g.refs.push(r);
    groups.set(k, g);
  }
  const result: PushResult = { digest: manifestDigest, uploadedBlobs: 0, uploadedBytes: 0, mountedBlobs: 0, existingBlobs: 0 };
  const done: RepoRef[] = [];
  for (const { repo, refs: group } of groups.values()) {
    const mountFrom = [...(options.mountFrom ?? []), ...done.filter((d) => d.domain === repo.domain).map((d) => d.path)];
    // An optional blob (a foreign layer with urls) missing from the store is left out, not an error.
    const present = await Promise.all(content.map(async (b) => (await store.hasBlob(b.digest)) || !b.optional));
    const fetchMissing = options.fetchMissing;
    const outcomes = await allOrFirstError(
      content.map(async (b, i) => {
        if (!present[i]) return { how: 'skipped' as const, size: 0 };
        // Where this blob is known to be (a base image pulled from there): mounted, not sent.
        const sources = options.mountSources?.get(b.digest);
        const from = sources ? [...sources, ...mountFrom] : mountFrom;
        const how = await uploader.uploadBlob(repo, store, b.digest, {
          mountFrom: from,
          size: b.size,
          ...(fetchMissing ? { fetchMissing: () => fetchMissing(b) } : {}),
          ...(listener ? { progress: { listener, kind: b.role === 'config' ? ('config' as const) : ('layer' as const) } } : {}),
        });
        return { how, size: b.size };
      }),
    );
    for (const o of outcomes) {
      if (o.how === 'uploaded') {
        result.uploadedBlobs++;
        result.uploadedBytes += o.size;
      } else if (o.how === 'mounted') result.mountedBlobs++;
      else if (o.how === 'exists') result.existingBlobs++;
    }
    const name = repoName(repo);
    for (const c of children) {
      const bytes = await store.readBlob(c.digest);
      const report = listener ? new TransferReport(listener, c.digest, bytes.length, 'manifest', name) : undefined;
      report?.start('push');
      await putManifest(s, repo, c.digest, bytes, c.mediaType);
      report?.done(bytes.length);
    }
    const refsToPut = group.some((r) => r.tag !== undefined) ? group.filter((r) => r.tag !== undefined) : group;
    // The root manifest is one transfer however many tags it is put under.
    const rootReport = listener ? new TransferReport(listener, manifestDigest, root.bytes.length, 'manifest', name) : undefined;
    rootReport?.start('push');
    for (const r of refsToPut) {
      const d = await putManifest(s, repo, r.tag ?? manifestDigest, root.bytes, root.mediaType);
      if (d !== manifestDigest) {
        throw new RegistryError(`pushing ${repoName(r)}: the manifest sent hashes to ${d}, not ${manifestDigest}; the store is corrupt`, {
          registry: repo.domain,
          repository: repo.path,
        });
      }
    }
    rootReport?.done(root.bytes.length);
    done.push(repo);
  }
  return result;
}
