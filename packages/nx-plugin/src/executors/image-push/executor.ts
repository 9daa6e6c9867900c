// The `image-push` executor: pushes what `image` left at outputPath. It reads metadata.json and
// imports the OCI layout into the Kiln store (blobs already there are kept), so it needs nothing
// but the image folder: it works after an Nx cache hit on a machine whose Kiln store is empty.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { logger, type ExecutorContext } from '@nx/devkit';
import { openStore, parseReference, readOciLayout } from '@kiln/core';
import {
  DEFAULT_OUTPUT_PATH,
  METADATA_FILE,
  TemplateValues,
  errorMessage,
  fromRoot,
  projectInfo,
  registryClient,
  renderTemplate,
  type ImageMetadata,
} from '../shared/context.js';
import type { ImagePushExecutorOptions } from './schema.js';

export type { ImagePushExecutorOptions } from './schema.js';

export default async function imagePushExecutor(
  options: ImagePushExecutorOptions,
  context: ExecutorContext,
): Promise<{ success: boolean; digest?: string }> {
  try {
    const info = projectInfo(context);
    const values = new TemplateValues(info);
    const outputPath = fromRoot(info, renderTemplate(options.outputPath ?? DEFAULT_OUTPUT_PATH, values, 'outputPath'));
    let metadata: ImageMetadata;
    try {
      metadata = JSON.parse(await readFile(join(outputPath, METADATA_FILE), 'utf8')) as ImageMetadata;
    } catch (err) {
      throw new Error(`no image to push for ${info.projectName}: cannot read ${join(outputPath, METADATA_FILE)} (${errorMessage(err)}); run the image target first`);
    }
    const tags = options.tags?.length ? options.tags.map((t) => renderTemplate(t, values, 'tag', true)) : metadata.tags;
    if (!tags?.length) throw new Error(`no tags to push ${info.projectName} to: set tags on the image or image-push target`);
    const refs = tags.map((t) => parseReference(t));

    const store = await openStore(options.store ? fromRoot(info, renderTemplate(options.store, values, 'store')) : undefined);
    const imported = await readOciLayout(outputPath, store);
    if (imported.manifestDigest !== metadata.digest && imported.indexDigest !== metadata.digest) {
      throw new Error(`the OCI layout in ${outputPath} holds ${imported.manifestDigest}, but ${METADATA_FILE} names ${metadata.digest}; rebuild the image`);
    }
    const digest = imported.indexDigest ?? imported.manifestDigest;
    const client = registryClient(options.insecureRegistries);
    try {
      logger.info(`Pushing ${info.projectName} (${digest}) to ${tags.join(', ')}`);
      const result = await client.push(store, digest, refs);
      logger.info(
        `pushed ${tags.join(', ')}: digest ${result.digest} (${result.uploadedBlobs} blobs uploaded, ${result.mountedBlobs} mounted, ${result.existingBlobs} already there)`,
      );
      return { success: true, digest: result.digest };
    } finally {
      client.close();
    }
  } catch (err) {
    logger.error(`Kiln: ${errorMessage(err)}`);
    return { success: false };
  }
}
