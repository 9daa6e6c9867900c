/**
 * The Action's outputs derived from a MetadataResult: the joined strings, the `json` output and
 * the Bake definitions (upstream writes those to files and outputs their paths; writing is the
 * Action's job).
 */
import type { MetadataInputs, MetadataResult } from './metadata.js';
import { DEFAULT_METADATA_INPUTS } from './metadata.js';

/** Where annotations apply unless DOCKER_METADATA_ANNOTATIONS_LEVELS says otherwise. */
export const DEFAULT_ANNOTATION_LEVELS: readonly string[] = ['manifest'];

/** `level:key=value` for every level, level by level (the form buildx's --annotation takes). */
export function annotationsAtLevels(annotations: readonly string[], levels: readonly string[] = DEFAULT_ANNOTATION_LEVELS): string[] {
  return levels.flatMap((level) => annotations.map((annotation) => `${level}:${annotation}`));
}

/** `key=value` entries as an object. */
export function labelsRecord(entries: readonly string[]): Record<string, string> {
  return Object.fromEntries(
    entries.map((entry) => {
      const eq = entry.indexOf('=');
      return eq < 0 ? [entry, ''] : [entry.slice(0, eq), entry.slice(eq + 1)];
    }),
  );
}

/** The `json` output (upstream's getJSON). */
export interface MetadataJson {
  tags: string[];
  'tag-names': string[];
  labels: Record<string, string>;
  annotations: string[];
}

export function metadataJson(result: MetadataResult, annotationLevels: readonly string[] = DEFAULT_ANNOTATION_LEVELS): MetadataJson {
  return {
    tags: result.tags,
    'tag-names': result.tagNames,
    labels: labelsRecord(result.labels),
    annotations: annotationsAtLevels(result.annotations, annotationLevels),
  };
}

/** The Action's string outputs, joined with the sep-* inputs. */
export interface MetadataOutputs {
  version: string;
  tags: string;
  'tag-names': string;
  labels: string;
  annotations: string;
  json: string;
}

export function metadataOutputs(
  result: MetadataResult,
  inputs: Pick<MetadataInputs, 'sepTags' | 'sepLabels' | 'sepAnnotations'> = {},
  annotationLevels: readonly string[] = DEFAULT_ANNOTATION_LEVELS,
): MetadataOutputs {
  const sepTags = inputs.sepTags ?? DEFAULT_METADATA_INPUTS.sepTags;
  return {
    version: result.version.main ?? '',
    tags: result.tags.join(sepTags),
    'tag-names': result.tagNames.join(sepTags),
    labels: result.labels.join(inputs.sepLabels ?? DEFAULT_METADATA_INPUTS.sepLabels),
    annotations: annotationsAtLevels(result.annotations, annotationLevels).join(inputs.sepAnnotations ?? DEFAULT_METADATA_INPUTS.sepAnnotations),
    json: JSON.stringify(metadataJson(result, annotationLevels)),
  };
}

export interface BakeTarget {
  tags?: string[];
  labels?: Record<string, string>;
  annotations?: string[];
  args?: { DOCKER_META_IMAGES: string; DOCKER_META_VERSION?: string };
}

/** A Bake definition file: `{"target": {"<bake-target>": {...}}}`. */
export interface BakeFile {
  target: Record<string, BakeTarget>;
}

/** The `bake-file-tags` definition. */
export function bakeTagsFile(result: MetadataResult, bakeTarget = DEFAULT_METADATA_INPUTS.bakeTarget): BakeFile {
  return bakeFile(bakeTarget, { tags: result.tags, args: bakeArgs(result) });
}

/** The `bake-file-labels` definition. */
export function bakeLabelsFile(result: MetadataResult, bakeTarget = DEFAULT_METADATA_INPUTS.bakeTarget): BakeFile {
  return bakeFile(bakeTarget, { labels: labelsRecord(result.labels) });
}

/** The `bake-file-annotations` definition. */
export function bakeAnnotationsFile(
  result: MetadataResult,
  bakeTarget = DEFAULT_METADATA_INPUTS.bakeTarget,
  annotationLevels: readonly string[] = DEFAULT_ANNOTATION_LEVELS,
): BakeFile {
  return bakeFile(bakeTarget, { annotations: annotationsAtLevels(result.annotations, annotationLevels) });
}

/** The `bake-file` definition: tags and labels together. */
export function bakeTagsLabelsFile(result: MetadataResult, bakeTarget = DEFAULT_METADATA_INPUTS.bakeTarget): BakeFile {
  return bakeFile(bakeTarget, { tags: result.tags, labels: labelsRecord(result.labels), args: bakeArgs(result) });
}

function bakeArgs(result: MetadataResult): NonNullable<BakeTarget['args']> {
  // DOCKER_META_VERSION stays undefined (absent from the JSON) when no version was generated.
  return { DOCKER_META_IMAGES: result.images.join(','), DOCKER_META_VERSION: result.version.main };
}

function bakeFile(bakeTarget: string, definition: BakeTarget): BakeFile {
  return { target: { [bakeTarget]: definition } };
}
