// Media types Kiln writes (OCI) and accepts (OCI and Docker v2 schema 2).

export const MediaTypes = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  ociLayoutHeader: 'application/vnd.oci.layout.header.v1+json',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
} as const;

export function isManifest(mediaType: string | undefined): boolean {
  return mediaType === MediaTypes.ociManifest || mediaType === MediaTypes.dockerManifest;
}

export function isIndex(mediaType: string | undefined): boolean {
  return mediaType === MediaTypes.ociIndex || mediaType === MediaTypes.dockerManifestList;
}

export type LayerCompression = 'gzip' | 'zstd' | 'none';

/** How a layer blob is compressed, from its media type; undefined when it is not a layer type. */
export function layerCompression(mediaType: string): LayerCompression | undefined {
  switch (mediaType) {
    case MediaTypes.ociLayer:
    case 'application/vnd.docker.image.rootfs.diff.tar':
      return 'none';
    case MediaTypes.ociLayerGzip:
    case MediaTypes.dockerLayerGzip:
    case MediaTypes.dockerForeignLayerGzip:
    case 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip':
      return 'gzip';
    case MediaTypes.ociLayerZstd:
      return 'zstd';
    default:
      return undefined;
  }
}
