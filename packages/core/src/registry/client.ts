// The OCI Distribution client Kiln's front ends and engine hold: one object over the parts of
// this folder, laid out as go-containerregistry's remote/ — session.ts (ping, auth, redirects),
// retry.ts and failures.ts (when to try again, what a failure means), fetch.ts and pull.ts
// (reading), upload.ts, mount.ts and push.ts (writing). The parts share one session (connections,
// tokens, retries, the bound on parallel transfers) and one record of where blobs were seen (the
// mount sources of later pushes).
// Protocol: https://github.com/opencontainers/distribution-spec/blob/main/spec.md

import type { Platform } from '../oci/types.js';
import type { ImageReference } from '../reference/reference.js';
import type { BlobFiles, BlobReader, BlobWriterFactory, Blobs } from '../contracts/blobs.js';
import { Fetcher } from './fetch.js';
import type { FetchedManifest } from './fetch.js';
import { BlobSightings } from './mount.js';
import { pullImage } from './pull.js';
import type { PulledImage } from './pull.js';
import { pushImage, putManifest } from './push.js';
import { RegistrySession } from './session.js';
import type { PushResult, RegistryClientOptions, RepoRef, TransferListener } from './types.js';
import { Uploader } from './upload.js';
import type { UploadOutcome } from './upload.js';

export class RegistryClient {
  private readonly session: RegistrySession;
  private readonly fetcher: Fetcher;
  private readonly uploader: Uploader;

  constructor(options: RegistryClientOptions = {}) {
    this.session = new RegistrySession(options);
    const seen = new BlobSightings();
    this.fetcher = new Fetcher(this.session, seen, options.maxManifestBytes);
    this.uploader = new Uploader(this.session, this.fetcher, seen, options.chunkSize);
  }

  /** Closes idle keep-alive connections. The client can still be used afterwards. */
  close(): void {
    this.session.close();
  }

  /** Ends every transfer still running and refuses new ones (see RegistrySession.cancel). */
  cancel(): void {
    this.session.cancel();
  }

  /** Token requests made so far (each (registry, scopes) is asked once until its token expires). */
  get tokenRequests(): number {
    return this.session.auth.tokenRequests;
  }

  /**
   * Resolves `ref`, stores its manifest (and the index, when it is one), then the manifest for
   * `platform` (default: linux on the host's architecture), its config and (unless `layers` is
   * false) its layers, each verified against its digest. Blobs already in the store are not downloaded. Does not tag.
   * `onProgress` hears of each manifest and blob: start (pull, or exists when the store has it),
   * bytes as they stream (at most every 100 ms per blob, and at the end), done.
   */
  pull(ref: ImageReference, store: Blobs, options: { platform?: Platform; onProgress?: TransferListener; layers?: boolean } = {}): Promise<PulledImage> {
    return pullImage(this.fetcher, ref, store, options);
  }

  /**
   * The digest a tag points to, from a HEAD (Docker-Content-Digest), or a GET when the registry
   * does not send it. A reference with a digest is returned as it is.
   */
  resolveDigest(ref: ImageReference): Promise<string> {
    return this.fetcher.resolveDigest(ref);
  }

  /** GETs a manifest or index (OCI or Docker) by tag or digest, verified when it is a digest. */
  getManifest(repo: RepoRef, reference: string): Promise<FetchedManifest> {
    return this.fetcher.getManifest(repo, reference);
  }

  /** PUTs a manifest under a tag or its digest; returns its digest. */
  putManifest(repo: RepoRef, reference: string, bytes: Buffer, mediaType: string): Promise<string> {
    return putManifest(this.session, repo, reference, bytes, mediaType);
  }

  /** Whether the repository has the blob (HEAD). */
  hasBlob(repo: RepoRef, digest: string): Promise<boolean> {
    return this.fetcher.hasBlob(repo, digest);
  }

  /**
   * Downloads a blob into the store, streaming, verified against its digest (and `size` when
   * given) before it becomes visible. A corrupt or cut download is retried; nothing unverified is
   * ever stored. A blob the store has is not downloaded.
   */
  fetchBlobToStore(repo: RepoRef, digest: string, store: BlobReader & BlobWriterFactory & BlobFiles, size?: number): Promise<void> {
    return this.fetcher.fetchBlobToStore(repo, digest, store, size);
  }

  /**
   * Uploads one blob from the store: nothing when the repository has it, a cross-repository mount
   * when one of `mountFrom` (repositories of the same registry, plus those this client saw the blob
   * in) has it, else an upload (one PUT up to `chunkSize`, else PATCH chunks then PUT). A failed
   * attempt starts over with a new upload session.
   */
  uploadBlob(
    repo: RepoRef,
    store: BlobReader & BlobFiles,
    digest: string,
    options: { mountFrom?: string[]; size?: number; fetchMissing?: () => Promise<void> } = {},
  ): Promise<UploadOutcome> {
    return this.uploader.uploadBlob(repo, store, digest, options);
  }

  /**
   * Pushes an image (manifest or index) from the store to every reference: per repository, every
   * blob (config and layers, in parallel up to `concurrency`) is HEADed, mounted or uploaded, then
   * index children by digest, then the manifest under each tag — last, so a failed push tags
   * nothing. Later repositories of the same registry mount what earlier ones received.
   * `onProgress` hears of each blob and manifest, per repository: start (push, mount or exists),
   * bytes as they stream (at most every 100 ms per blob, and at the end), done.
   */
  push(
    store: BlobReader & BlobFiles,
    manifestDigest: string,
    refs: ImageReference[],
    options: {
      mountFrom?: string[];
      mountSources?: ReadonlyMap<string, readonly string[]>;
      fetchMissing?: (blob: { digest: string; size: number }) => Promise<void>;
      onProgress?: TransferListener;
    } = {},
  ): Promise<PushResult> {
    return pushImage(this.session, this.uploader, store, manifestDigest, refs, options);
  }
}
