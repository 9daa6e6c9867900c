// Several platforms in one build (`--platform linux/amd64,linux/arm64`): the Dockerfile is built
// once per platform (each with its own TARGETPLATFORM, TARGETARCH, ... and base images), one after
// the other into the same store, then an OCI image index over the platforms' manifests is what
// the tags name and the outputs hold. Kiln sets up no emulation: a Dockerfile without RUN only
// assembles layers, so any platform builds on any host; RUN for another architecture needs an
// emulator registered with binfmt_misc (run/emulation.ts says so before anything starts).

import { KilnError } from '../errors.js';
import { formatPlatform, indexFor, parsePlatform, platformMatches } from '../oci/image.js';
import { MediaTypes } from '../oci/media-types.js';
import type { Platform } from '../oci/types.js';
import type { CacheRecord } from '../contracts/cache-index.js';
import type { ContentStore } from '../store/types.js';
import { cacheTransferContext, checkMultiPlatformOutputs, publishImage } from './publish.js';
import type { BuildEvent, BuildOptions, BuildResult, PlatformImage, StepReport } from './types.js';

/** The platforms of a `platform` option: one, several separated by commas, or none (the host's). */
export function parsePlatformList(spec: string | undefined): Platform[] {
  if (spec === undefined || spec.trim() === '') return [];
  const platforms: Platform[] = [];
  for (const part of spec.split(',')) {
    if (part.trim() === '') throw new KilnError(`invalid platform list ${JSON.stringify(spec)}: an empty entry; separate platforms with single commas`);
    const platform = parsePlatform(part);
    // The same platform spelled two ways (linux/arm64 and linux/arm64/v8) is still named twice.
    const twin = platforms.find((p) => platformMatches(p, platform) && platformMatches(platform, p));
    if (twin) throw new KilnError(`platform ${formatPlatform(twin)} is named twice in ${JSON.stringify(spec)}`);
    platforms.push(platform);
  }
  return platforms;
}

type BuildOne = (store: ContentStore, options: BuildOptions) => Promise<BuildResult>;

/** Builds every platform with `buildOne`, then tags and exports the index over them. */
export async function buildPlatforms(store: ContentStore, options: BuildOptions, platforms: readonly Platform[], buildOne: BuildOne): Promise<BuildResult> {
  const started = Date.now();
  const names = platforms.map(formatPlatform);
  checkMultiPlatformOutputs(options, names);

  const images: PlatformImage[] = [];
  const steps: StepReport[] = [];
  const cacheRecords = new Map<string, CacheRecord>();
  const warned = new Set<string>();
  let idOffset = 0;
  for (const [i, platform] of names.entries()) {
    let lastId = idOffset;
    const onEvent = options.onEvent;
    // Progress reads as buildx's: `[linux/arm64 stage-0 2/3]`, step numbers running on across
    // the platforms, each warning once (an unused build arg is unused on every platform).
    const forward = (event: BuildEvent): void => {
      if (!onEvent) return;
      if (event.type === 'warning') {
        if (warned.has(event.message)) return;
        warned.add(event.message);
        onEvent(event);
      } else if (event.type === 'step-start') {
        lastId = Math.max(lastId, event.id + idOffset);
        onEvent({ ...event, id: event.id + idOffset, stage: `${platform} ${event.stage}` });
      } else if (event.type === 'step-done' || event.type === 'step-output') {
        onEvent({ ...event, id: event.id + idOffset });
      } else if (event.type === 'stage-start') {
        onEvent({ ...event, stage: `${platform} ${event.stage}` });
      } else {
        onEvent(event);
      }
    };
    const result = await buildOne(store, {
      ...options,
      platform,
      tags: [],
      outputs: [],
      cacheTo: [],
      // One import serves every platform.
      cacheFrom: i === 0 ? options.cacheFrom : [],
      onEvent: forward,
    });
    idOffset = lastId;
    images.push({ platform, manifestDigest: result.manifestDigest, configDigest: result.configDigest, config: result.config, layers: result.layers });
    steps.push(...result.steps.map((s) => ({ ...s, stage: `${platform} ${s.stage}` })));
    for (const { key, record } of result.cacheRecords) cacheRecords.set(key, record);
  }

  const manifests = [];
  for (const [i, image] of images.entries()) {
    const size = await store.blobSize(image.manifestDigest);
    if (size === undefined) throw new KilnError(`the manifest of ${image.platform} (${image.manifestDigest}) vanished from the store`);
    manifests.push({ mediaType: MediaTypes.ociManifest, digest: image.manifestDigest, size, platform: platforms[i]! });
  }
  const indexBlob = await store.writeJson(indexFor(manifests));
  const records = [...cacheRecords].map(([key, record]) => ({ key, record }));
  const { tags, referencedLayers } = await publishImage(store, indexBlob.digest, options, records, cacheTransferContext(store, options));
  const first = images[0]!;
  return {
    manifestDigest: indexBlob.digest,
    configDigest: first.configDigest,
    imageId: indexBlob.digest,
    tags,
    config: first.config,
    layers: first.layers,
    platforms: images,
    steps,
    cacheRecords: records,
    ...(referencedLayers ? { referencedLayers } : {}),
    durationMs: Date.now() - started,
  };
}
