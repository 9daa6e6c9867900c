// The store's contract, at the bottom of the core: small interfaces, one per way of using the
// store, so each room depends on what it uses (oci/ on blobs and locks, layer/ on a blob writer
// factory, context/ on meta files) and never on store/, which implements them all.
export type { BlobFiles, BlobInfo, BlobReader, BlobSink, BlobWriter, BlobWriterFactory, Blobs, LayerRecord } from './blobs.js';
export type { CacheIndex, CacheRecord } from './cache-index.js';
export type { ContainerRecord, Containers } from './containers.js';
export type { Locks } from './locks.js';
export type { Maintenance, StoredBlob, StoredCacheRecord, StoredDirectory } from './maintenance.js';
export type { MetaFiles } from './meta.js';
export type { ImageRecord, Images, RefRecord, Refs } from './refs.js';
export type { SandboxSpace } from './sandbox-space.js';
export type { ScratchSpace } from './scratch.js';
export { DigestMismatchError, StoreCorruptionError } from './errors.js';
