// layer/: deterministic layer writing, streaming reading, safe extraction, filesystem views.
export {
  LayerEntryError,
  OPAQUE_WHITEOUT,
  WHITEOUT_PREFIX,
  cleanArchivePath,
  comparePaths,
  entryPathProblem,
  validateEntryPath,
} from './entry.js';
export type { EntryType, LayerEntry } from './entry.js';
export { LayerSourceChangedError, writeLayer } from './writer.js';
export type { WriteLayerOptions, WrittenLayer } from './writer.js';
export { LayerFormatError, decompressStream, hasZstd, normalizeTarPath, readLayer, readTar } from './reader.js';
export type { TarEntryHandler, TarHeader } from './reader.js';
export { UnsafeEntryError, extractArchive, extractLayer, sniffArchive } from './extract.js';
export type { ArchiveKind, ExtractArchiveOptions, ExtractOptions, ExtractResult } from './extract.js';
export { buildFsIndex, readFileFromLayers, resolveInIndex } from './fs-index.js';
export type { FsIndex, FsIndexEntry, LayerSource } from './fs-index.js';
