// Where FROM and COPY --from find images: `scratch`, the local store (by name or digest),
// `oci-layout://DIR[:tag]`, `docker-archive://FILE.tar[:tag]`, and registries: a name that is not
// in the store is resolved there (always re-resolved with --pull), as docker build does; only its
// manifest and config are stored, its layers when a step needs them.

import { resolve } from 'node:path';
import { KilnError } from '../errors.js';
import { BlobNotFoundError } from '../store/errors.js';
import { isIndex } from '../oci/media-types.js';
import type { ImageConfig, ImageIndex, ImageManifest, Platform } from '../oci/types.js';
import { readOciLayout } from '../oci/layout.js';
import { rememberBlobSources } from './remote-layers.js';
import { readDockerArchive } from '../oci/docker-archive.js';
import { selectManifest } from '../oci/image.js';
import { formatReference, parseReference, repositoryName } from '../reference/index.js';
import type { LayerRecord } from '../contracts/blobs.js';
import type { ContentStore } from '../store/types.js';
import type { RegistryClient } from '../registry/client.js';

export interface BaseImage {
  /** What the user wrote, for messages. */
  name: string;
  /** Manifest digest, or 'scratch'. */
  digest: string;
  config: ImageConfig;
  layers: LayerRecord[];
}

export function scratchImage(platform: Platform): BaseImage {
  return {
    name: 'scratch',
    digest: 'scratch',
    config: { architecture: platform.architecture, os: platform.os, ...(platform.variant ? { variant: platform.variant } : {}), rootfs: { type: 'layers', diff_ids: [] } },
    layers: [],
  };
}

/** Split `PATH[:tag]`, where the tag is after the last ':' that follows the last '/'. */
function splitPathAndTag(spec: string): [string, string | undefined] {
  const colon = spec.lastIndexOf(':');
  if (colon > spec.lastIndexOf('/') && colon > 0) return [spec.slice(0, colon), spec.slice(colon + 1)];
  return [spec, undefined];
}

export class ImageResolver {
  private readonly loaded = new Map<string, Promise<BaseImage>>();

  constructor(
    private readonly store: ContentStore,
    private readonly platform: Platform,
    /** Relative oci-layout:// and docker-archive:// paths resolve from here. */
    private readonly cwd: string,
    /** Pulls images that are not local; without one, a missing image is an error. */
    private readonly registry?: RegistryClient,
    /** Re-resolve registry images even when the store has them (`--pull`). */
    private readonly alwaysPull = false,
  ) {}

  /** The image for `platform` (default: the build's; `FROM --platform=` asks for another). */
  resolve(name: string, platform: Platform = this.platform): Promise<BaseImage> {
    const key = `${name}\0${platform.os}/${platform.architecture}/${platform.variant ?? ''}`;
    let pending = this.loaded.get(key);
    if (!pending) {
      pending = this.load(name, platform);
      this.loaded.set(key, pending);
    }
    return pending;
  }

  private async load(name: string, platform: Platform): Promise<BaseImage> {
    if (name === 'scratch') return scratchImage(platform);
    if (name.startsWith('oci-layout://')) {
      const [dir, tag] = splitPathAndTag(name.slice('oci-layout://'.length));
      const { manifestDigest, layerSources } = await readOciLayout(resolve(this.cwd, dir), this.store, tag, { platform: platform });
      // Layers the folder references (an Nx image folder on a registry base): fetched when needed.
      for (const [digest, repos] of layerSources ?? []) for (const repo of repos) await rememberBlobSources(this.store, repo, [digest]);
      return this.fromManifest(name, manifestDigest, platform);
    }
    if (name.startsWith('docker-archive://')) {
      const [file, tag] = splitPathAndTag(name.slice('docker-archive://'.length));
      const { manifestDigest } = await readDockerArchive(resolve(this.cwd, file), this.store, tag, { platform: platform });
      return this.fromManifest(name, manifestDigest, platform);
    }
    const ref = parseReference(name);
    const local = ref.digest ?? (await this.store.getRef(formatReference(ref)));
    if (local && !this.alwaysPull && (await this.store.hasBlob(local))) {
      try {
        return await this.fromManifest(name, local, platform);
      } catch (err) {
        // A multi-platform image pulled for another platform: its index is here, this platform's
        // manifest is not. The registry has it (what is already stored is not fetched again).
        if (!(err instanceof BlobNotFoundError) || !this.registry) throw err;
      }
    }
    if (!this.registry) {
      throw new KilnError(
        `image "${name}" is not in the local Kiln store (${this.store.root}): ` +
          `import it with "kiln load -i FILE.tar", or name it as oci-layout://DIR or docker-archive://FILE.tar`,
      );
    }
    // Manifest and config only: the layers are fetched when a step needs their bytes (remote-layers.ts).
    const pulled = await this.registry.pull(ref, this.store, { platform: platform, layers: false });
    await this.store.addImage(pulled.indexDigest ?? pulled.manifestDigest, `${repositoryName(ref)}@${pulled.indexDigest ?? pulled.manifestDigest}`);
    if (!ref.digest) await this.store.setRef(formatReference(ref), pulled.indexDigest ?? pulled.manifestDigest);
    return this.fromManifest(name, pulled.manifestDigest, platform);
  }

  private async fromManifest(name: string, digest: string, platform: Platform): Promise<BaseImage> {
    let manifestDigest = digest;
    let doc = await this.store.readJson<ImageManifest | ImageIndex>(digest);
    if (isIndex(doc.mediaType) || 'manifests' in doc) {
      const chosen = selectManifest(doc as ImageIndex, platform);
      manifestDigest = chosen.digest;
      doc = await this.store.readJson<ImageManifest>(manifestDigest);
    }
    const manifest = doc as ImageManifest;
    const config = await this.store.readJson<ImageConfig>(manifest.config.digest);
    const diffIds = config.rootfs?.diff_ids ?? [];
    if (diffIds.length !== manifest.layers.length) {
      throw new KilnError(`image "${name}" is inconsistent: ${manifest.layers.length} layers but ${diffIds.length} diff_ids in its config`);
    }
    const layers = manifest.layers.map((layer, i) => ({
      digest: layer.digest,
      diffId: diffIds[i]!,
      size: layer.size,
      mediaType: layer.mediaType,
    }));
    return { name, digest: manifestDigest, config, layers };
  }
}
