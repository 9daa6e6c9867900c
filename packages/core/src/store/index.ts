// The local content-addressed store: the contract (the small interfaces in contracts/ and the
// whole store as one type), its directory implementation, its errors.
export type {
  BlobFiles,
  BlobInfo,
  BlobReader,
  BlobSink,
  BlobWriter,
  BlobWriterFactory,
  Blobs,
  CacheIndex,
  CacheRecord,
  ContainerRecord,
  Containers,
  LayerRecord,
  Locks,
  Maintenance,
  MetaFiles,
  StoredBlob,
  StoredCacheRecord,
  StoredDirectory,
  ImageRecord,
  Images,
  RefRecord,
  Refs,
  ScratchSpace,
} from '../contracts/index.js';
export type { ContentStore, VerifyReport } from './types.js';
export {
  STORE_FORMAT_VERSION,
  Store,
  defaultStoreRoot,
  openStore,
  safeFileName,
} from './store.js';
export type { LockOptions } from './store.js';
export {
  BlobNotFoundError,
  DigestMismatchError,
  InvalidDigestError,
  LockTimeoutError,
  StoreAccessError,
  StoreCorruptionError,
  StoreFormatError,
  storeFsError,
} from './errors.js';
