// The `image-push` executor: pushes what `image` left at its outputPath. It reads metadata.json and
// imports the OCI layout into the Kiln store (blobs already there are kept), so it needs nothing
// but the image folder: it works after an Nx cache hit on a machine whose Kiln store is empty.
// Tags are rendered here, at push time, from the image target's templates: an Nx cache hit
// restores the image, but {sha}, {branch} and {env.NAME} must be today's, not the cached build's.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExecutorContext } from '@nx/devkit';
import { openStore, importOciLayoutImage } from '@kiln/core';
import {
  DEFAULT_OUTPUT_PATH,
  METADATA_FILE,
  TemplateValues,
  errorMessage,
  fromRoot,
  projectInfo,
  pushTags,
  registryClient,
  renderTemplate,
  targetOptions,
  withRegistry,
  type ImageMetadata,
} from '../shared/context.js';
import { log } from '../shared/log.js';
import type { ImageExecutorOptions } from '../image/schema.js';
import type { ImagePushExecutorOptions } from './schema.js';

export type { ImagePushExecutorOptions } from './schema.js';

export default async function imagePushExecutor(
  options: ImagePushExecutorOptions,
  context: ExecutorContext,
): Promise<{ success: boolean; digest?: string }> {
  try {
    const info = projectInfo(context);
    // What the image target was told (where it wrote, which store, which tags), unless set here.
    const image = targetOptions(context, options.imageTarget ?? 'image') as ImageExecutorOptions;
    const opts = {
      outputPath: options.outputPath ?? image.outputPath ?? DEFAULT_OUTPUT_PATH,
      store: options.store ?? image.store,
      registry: options.registry ?? image.registry,
      insecureRegistries: options.insecureRegistries ?? image.insecureRegistries,
      tags: options.tags?.length ? options.tags : image.tags,
      compression: options.compression ?? image.compression,
    };
    const outputPath = fromRoot(info, renderTemplate(opts.outputPath, new TemplateValues(info), 'outputPath'));
    let metadata: ImageMetadata;
    try {
      metadata = JSON.parse(await readFile(join(outputPath, METADATA_FILE), 'utf8')) as ImageMetadata;
    } catch (err) {
      throw new Error(`no image to push for ${info.projectName}: cannot read ${join(outputPath, METADATA_FILE)} (${errorMessage(err)}); run the image target first`);
    }
    // {hash} is the hash of the build that made the image, not of this push task.
    const values = new TemplateValues(info, process.env, { hash: metadata.hash });
    const registry = opts.registry ? renderTemplate(opts.registry, values, 'registry') : undefined;
    const tags = (opts.tags?.length ? opts.tags.map((t) => renderTemplate(t, values, 'tag', true)) : metadata.tags ?? []).map((t) =>
      withRegistry(t, registry),
    );
    if (!tags.length) throw new Error(`no tags to push ${info.projectName} to: set tags on the image or image-push target`);

    const store = await openStore(opts.store ? fromRoot(info, renderTemplate(opts.store, values, 'store')) : undefined);
    // The whole image: for several platforms, every platform's manifest and layers.
    // Layers of a registry base are not in the folder: the push mounts them, or fetches them from there.
    const { digest, layerSources } = await importOciLayoutImage(outputPath, store);
    if (digest !== metadata.digest) {
      throw new Error(`the OCI layout in ${outputPath} holds ${digest}, but ${METADATA_FILE} names ${metadata.digest}; rebuild the image`);
    }
    log.info(`Pushing ${info.projectName} (${digest}) to ${tags.join(', ')}`);
    const client = registryClient(opts.insecureRegistries);
    try {
      const pushed = await pushTags(client, store, digest, tags, opts.compression, layerSources);
      log.info(pushed.summary);
      return { success: true, digest: pushed.digest };
    } finally {
      client.close();
    }
  } catch (err) {
    log.error(`Kiln: ${errorMessage(err)}`);
    return { success: false };
  }
}
