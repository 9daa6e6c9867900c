// archive/: the byte formats under layers and `docker save` archives: the deterministic tar
// writer and the compression module (sniffing, decompression, parallel gzip). Below oci/ and
// layer/, which both use it; it imports nothing from the other rooms.
export {
  GZIP_BLOCK_SIZE,
  SNIFF_LENGTH,
  UnsupportedCompressionError,
  decompress,
  decompressor,
  hasZstd,
  parallelGzip,
  sniffCompression,
  sniffFileCompression,
} from './compression.js';
export type { Compression, DecompressOptions, ParallelGzipOptions } from './compression.js';
export { TAR_BLOCK, TarWriteError, encodeHeader, writeTar } from './tar.js';
export type { EntryType, TarEntry, TarHeader } from './tar.js';
