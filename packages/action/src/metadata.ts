// Tags, labels, annotations and version for this run, from the inputs and the GitHub context, with
// docker/metadata-action's rules (./tags/). With `images`, `tags` holds tag rules;
// without, `tags` holds full references, as build-push-action takes them.

import { KilnError, parseAnnotations, parseReference } from '@kiln/core';
import {
  commitDateFromPayload,
  computeMetadata,
  githubContextFromEnv,
  labelsRecord,
  metadataOptionsFromEnv,
  repoInfoFromPayload,
  type GitHubContext,
} from './tags/index.js';
import type { ActionInputs } from './inputs.js';

export interface ImageMetadata {
  tags: string[];
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** The version the tag rules computed (undefined when none applied). */
  version: string | undefined;
  /** The commit's time: the `created` label. */
  created: Date;
  warnings: string[];
}

/** How the Action learns a commit's time when the event payload does not say (git in the workspace). */
export type CommitDateLookup = (sha: string) => Promise<Date | undefined>;

export async function imageMetadata(
  inputs: ActionInputs,
  env: NodeJS.ProcessEnv,
  commitDate: CommitDateLookup,
  now: Date = new Date(),
): Promise<ImageMetadata> {
  const ctx: GitHubContext = githubContextFromEnv(env);
  const options = metadataOptionsFromEnv(env);
  // The image's `created` label is the commit's time, not the build's, so a rebuild of the same
  // commit gives the same image.
  const created = commitDateFromPayload(ctx, options) ?? (ctx.sha ? await commitDate(ctx.sha) : undefined) ?? now;
  const result = computeMetadata(
    { images: inputs.images, tags: inputs.images.length ? inputs.tags : [], flavor: inputs.flavor, labels: inputs.labels, annotations: inputs.annotations },
    ctx,
    repoInfoFromPayload(ctx, env),
    { now, commitDate: created, created },
    options,
  );
  const tags = inputs.images.length ? result.tags : inputs.tags;
  for (const tag of tags) {
    try {
      parseReference(tag);
    } catch (err) {
      const hint = inputs.images.length ? '' : ' (without the images input, each tags line is a full image reference such as ghcr.io/org/app:1.0)';
      throw new KilnError(`input tags: ${(err as Error).message}${hint}`);
    }
  }
  return {
    tags,
    labels: labelsRecord(result.labels),
    annotations: parseAnnotations(result.annotations, 'input annotations'),
    version: result.version.main,
    created,
    // Without images the default tag rules were not asked for: their "no version" warning is noise.
    warnings: inputs.images.length ? result.warnings : result.warnings.filter((w) => !w.startsWith('no image version')),
  };
}
