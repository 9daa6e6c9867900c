// layer/: deterministic layer writing, streaming reading, safe extraction, filesystem views.
export {
  LayerEntryError,
  OPAQUE_WHITEOUT,
  WHITEOUT_PREFIX,
  cleanArchivePath,
  comparePaths,
  entryPathProblem,
  parentPath,
  validateEntryPath,
} from './entry.js';
export type { EntryType, LayerEntry } from './entry.js';
export { LayerSourceChangedError, writeLayer } from './writer.js';
export type { LayerSpans, WriteLayerOptions, WrittenLayer } from './writer.js';
export { LayerFormatError, normalizeTarPath, readLayer, readTar } from './reader.js';
export type { TarEntryHandler, TarHeader } from './reader.js';
export { UnsafeEntryError, extractArchive, extractLayer, makeWhiteout } from './extract.js';
export type { ExtractArchiveOptions, ExtractOptions, ExtractResult } from './extract.js';
// The compression module lives in archive/ (below oci/, which uses it too); re-exported here for the package.
export {
  UnsupportedCompressionError,
  decompress,
  hasZstd,
  sniffCompression,
  sniffFileCompression,
} from '../archive/compression.js';
export type { Compression, DecompressOptions } from '../archive/compression.js';
export { buildFsIndex, layerHeaders, readFileFromLayers, resolveInIndex, storedLayer, withLayerApplied } from './fs-index.js';
export type { FsIndex, FsIndexEntry, LayerSource } from './fs-index.js';
export { diffOverlayUpper } from './overlay-diff.js';
export type { LowerEntry, OverlayDiffInput } from './overlay-diff.js';
