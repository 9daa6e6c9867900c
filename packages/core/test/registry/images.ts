// Images for the registry tests, made with the real store and layer writer.

import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeLayer } from '../../src/layer/index.js';
import type { WrittenLayer } from '../../src/layer/index.js';
import { indexFor, manifestFor } from '../../src/oci/image.js';
import { MediaTypes } from '../../src/oci/media-types.js';
import type { Descriptor, ImageConfig, Platform } from '../../src/oci/types.js';
import { openStore } from '../../src/store/store.js';
import type { ContentStore } from '../../src/store/types.js';

export interface BuiltImage {
  manifestDigest: string;
  manifestBytes: Buffer;
  configDigest: string;
  config: ImageConfig;
  layers: WrittenLayer[];
  /** Every blob the image has (config + layers). */
  blobs: string[];
}

/** An image with one layer per entry of `layers` (path -> content). */
export async function buildImage(
  store: ContentStore,
  layers: Record<string, string | Uint8Array>[],
  opts: { platform?: Platform; compression?: 'gzip' | 'none'; label?: string } = {},
): Promise<BuiltImage> {
  const written: WrittenLayer[] = [];
  for (const files of layers) {
    const entries = Object.entries(files).map(([path, content]) => {
      const data = typeof content === 'string' ? Buffer.from(content) : content;
      return { path, type: 'file' as const, mode: 0o644, uid: 0, gid: 0, size: data.length, content: { data } };
    });
    written.push(await writeLayer(entries, store, { epoch: 0, compression: opts.compression ?? 'gzip' }));
  }
  const platform = opts.platform ?? { os: 'linux', architecture: 'amd64' };
  const config: ImageConfig = {
    created: '1970-01-01T00:00:00Z',
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    config: { Env: ['PATH=/usr/bin:/bin'], Cmd: ['/bin/sh'], Labels: { 'kiln.test': opts.label ?? 'yes' } },
    rootfs: { type: 'layers', diff_ids: written.map((l) => l.diffId) },
    history: written.map((_, i) => ({ created: '1970-01-01T00:00:00Z', created_by: `layer ${i}` })),
  };
  const cfg = await store.writeJson(config);
  const manifest = manifestFor(
    { mediaType: MediaTypes.ociConfig, digest: cfg.digest, size: cfg.size },
    written.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  );
  const m = await store.writeJson(manifest);
  return {
    manifestDigest: m.digest,
    manifestBytes: m.bytes,
    configDigest: cfg.digest,
    config,
    layers: written,
    blobs: [cfg.digest, ...written.map((l) => l.digest)],
  };
}

/** An OCI index over images for several platforms. */
export async function buildIndex(
  store: ContentStore,
  platforms: Platform[],
): Promise<{ indexDigest: string; images: (BuiltImage & { platform: Platform })[] }> {
  const images: (BuiltImage & { platform: Platform })[] = [];
  for (const p of platforms) {
    const img = await buildImage(store, [{ 'etc/arch': `${p.os}/${p.architecture}\n`, 'common.txt': 'shared\n' }], {
      platform: p,
      label: p.architecture,
    });
    images.push({ ...img, platform: p });
  }
  const idx = indexFor(
    images.map(
      (img): Descriptor => ({
        mediaType: MediaTypes.ociManifest,
        digest: img.manifestDigest,
        size: img.manifestBytes.length,
        platform: img.platform,
      }),
    ),
  );
  const written = await store.writeJson(idx);
  return { indexDigest: written.digest, images };
}

export function randomFile(size: number): Buffer {
  return randomBytes(size);
}

/** A fresh store in a temp dir; `cleanup` removes it. */
export async function tempStore(prefix = 'kiln-reg-store-'): Promise<{ store: ContentStore; dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const store = await openStore(join(dir, 'store'));
  return { store, dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
