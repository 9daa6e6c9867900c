/**
 * docker/metadata-action's environment switches, mapped to explicit settings so that the
 * computation itself never reads process.env.
 */
import { KilnError } from '@kiln/core';
import type { MetadataOptions } from './metadata.js';
import { DEFAULT_ANNOTATION_LEVELS } from './outputs.js';

/** DOCKER_METADATA_PR_HEAD_SHA and DOCKER_METADATA_SHORT_SHA_LENGTH. */
export function metadataOptionsFromEnv(env: NodeJS.ProcessEnv): MetadataOptions {
  const options: MetadataOptions = { prHeadSha: /^\s*true\s*$/i.test(env.DOCKER_METADATA_PR_HEAD_SHA ?? '') };
  const length = env.DOCKER_METADATA_SHORT_SHA_LENGTH?.trim();
  if (length) {
    if (!/^\d+$/.test(length) || Number(length) < 1) {
      throw new KilnError(`DOCKER_METADATA_SHORT_SHA_LENGTH: "${length}" is not a positive whole number (unset it for the default, 7)`);
    }
    options.shortShaLength = Number(length);
  }
  return options;
}

/** DOCKER_METADATA_ANNOTATIONS_LEVELS: comma-separated, e.g. `manifest,index`; default `manifest`. */
export function annotationLevelsFromEnv(env: NodeJS.ProcessEnv): string[] {
  const levels = (env.DOCKER_METADATA_ANNOTATIONS_LEVELS ?? '')
    .split(',')
    .map((level) => level.trim())
    .filter((level) => level !== '');
  return levels.length > 0 ? levels : [...DEFAULT_ANNOTATION_LEVELS];
}
