// Small images built by hand for the oci/ tests: each layer is a tar made by GNU tar from a temp
// directory (gzip-compressed with node:zlib unless asked not to), plus a config and a manifest.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { BlobSink } from '../../src/contracts/blobs.js';
import { indexFor, manifestFor } from '../../src/oci/image.js';
import { MediaTypes } from '../../src/oci/media-types.js';
import type { Descriptor, ImageConfig, Platform } from '../../src/oci/types.js';

export const sha256 = (data: Uint8Array | string): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** A tar of `files` (path -> content) made by GNU tar, sorted, owned by root, mtime 0. */
export async function gnuTar(files: Record<string, string | Uint8Array>): Promise<Buffer> {
  const dir = await mkdtemp(join(tmpdir(), 'kiln-oci-layer-'));
  try {
    const root = join(dir, 'root');
    await mkdir(root);
    for (const [path, content] of Object.entries(files)) {
      await mkdir(dirname(join(root, path)), { recursive: true });
      await writeFile(join(root, path), content);
    }
    const out = join(dir, 'layer.tar');
    execFileSync('tar', [
      '--sort=name',
      '--mtime=@0',
      '--owner=0',
      '--group=0',
      '--numeric-owner',
      '--format=posix',
      '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime',
      '-cf',
      out,
      '-C',
      root,
      '.',
    ]);
    return await readFile(out);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface LayerSpec {
  files: Record<string, string | Uint8Array>;
  /** Store the tar uncompressed (default: gzip). */
  uncompressed?: boolean;
}

export interface TestImage {
  manifestDigest: string;
  manifestSize: number;
  configDigest: string;
  config: ImageConfig;
  layers: (Descriptor & { diffId: string })[];
}

/** Builds an image into the store: layers, config (fixed timestamps), OCI manifest. */
export async function buildTestImage(
  store: BlobSink,
  layerSpecs: LayerSpec[],
  options: { platform?: Platform; env?: string[]; cmd?: string[] } = {},
): Promise<TestImage> {
  const layers: (Descriptor & { diffId: string })[] = [];
  for (const spec of layerSpecs) {
    const tar = await gnuTar(spec.files);
    const blob = spec.uncompressed ? tar : gzipSync(tar, { level: 6 });
    const info = await store.writeBlob(blob);
    layers.push({
      mediaType: spec.uncompressed ? MediaTypes.ociLayer : MediaTypes.ociLayerGzip,
      digest: info.digest,
      size: info.size,
      diffId: sha256(tar),
    });
  }
  const platform = options.platform ?? { architecture: 'amd64', os: 'linux' };
  const config: ImageConfig = {
    created: '2024-01-01T00:00:00Z',
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    config: { Env: options.env ?? ['PATH=/usr/local/bin:/usr/bin:/bin'], Cmd: options.cmd ?? ['/bin/sh'], WorkingDir: '/' },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((_, i) => ({ created: '2024-01-01T00:00:00Z', created_by: `layer ${i + 1}` })),
  };
  const cfg = await store.writeJson(config);
  const manifest = manifestFor(
    { mediaType: MediaTypes.ociConfig, digest: cfg.digest, size: cfg.size },
    layers.map(({ diffId: _d, ...l }) => l),
  );
  const m = await store.writeJson(manifest);
  return { manifestDigest: m.digest, manifestSize: m.size, configDigest: cfg.digest, config, layers };
}

/** Stores an OCI index over images, one entry per platform. */
export async function buildTestIndex(
  store: BlobSink,
  images: { image: TestImage; platform: Platform }[],
): Promise<{ digest: string; size: number }> {
  const idx = indexFor(
    images.map(({ image, platform }) => ({
      mediaType: MediaTypes.ociManifest,
      digest: image.manifestDigest,
      size: image.manifestSize,
      platform,
    })),
  );
  const info = await store.writeJson(idx);
  return { digest: info.digest, size: info.size };
}
