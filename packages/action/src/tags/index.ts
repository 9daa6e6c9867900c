// tags/: image tags, OCI labels and annotations with docker/metadata-action's rules and outputs.
export { MetadataInputError, splitInputList } from './attribute-list.js';
export {
  commitDateFromPayload,
  effectiveSha,
  githubContextFromEnv,
  type EventPayload,
  type GitHubContext,
  type GitHubContextOptions,
} from './github-context.js';
export { repoInfoFromGitHubRepository, repoInfoFromPayload, type RepoInfo } from './repo-info.js';
export {
  DEFAULT_TAG_EXPRESSIONS,
  DEFAULT_TAG_PRIORITIES,
  REF_EVENTS,
  SHA_FORMATS,
  TAG_TYPES,
  parseTagRule,
  parseTagRules,
  type EdgeTagRule,
  type MatchTagRule,
  type RawTagRule,
  type RefEvent,
  type RefTagRule,
  type ScheduleTagRule,
  type ShaFormat,
  type ShaTagRule,
  type TagRule,
  type TagType,
  type VersionTagRule,
} from './tag-expression.js';
export { LATEST_MODES, parseFlavor, type LatestMode, type TagFlavor } from './flavor.js';
export { parseImages, type MetadataImage } from './images.js';
export { isRawStatement } from './expressions.js';
export {
  DEFAULT_METADATA_INPUTS,
  computeMetadata,
  type MetadataClock,
  type MetadataInputs,
  type MetadataOptions,
  type MetadataResult,
  type MetadataVersion,
} from './metadata.js';
export {
  DEFAULT_ANNOTATION_LEVELS,
  annotationsAtLevels,
  bakeAnnotationsFile,
  bakeLabelsFile,
  bakeTagsFile,
  bakeTagsLabelsFile,
  labelsRecord,
  metadataJson,
  metadataOutputs,
  type BakeFile,
  type BakeTarget,
  type MetadataJson,
  type MetadataOutputs,
} from './outputs.js';
export { annotationLevelsFromEnv, metadataOptionsFromEnv } from './env-options.js';
