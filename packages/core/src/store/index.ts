// The local content-addressed store: the contract, its directory implementation, its errors.
export type {
  BlobInfo,
  BlobWriter,
  CacheRecord,
  ContentStore,
  LayerRecord,
  RefRecord,
  VerifyReport,
} from './types.js';
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
