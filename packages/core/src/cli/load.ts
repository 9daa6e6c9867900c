// `kiln load -i FILE.tar`: import a `docker save` archive into the store, tagged as it was.

import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { readDockerArchive } from '../oci/docker-archive.js';
import { formatReference, parseReference } from '../reference/index.js';
import { openStore } from '../store/store.js';
import type { CliIo } from './io.js';
import { UsageError } from './usage.js';

export async function loadCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { input: { type: 'string', short: 'i' }, store: { type: 'string' }, quiet: { type: 'boolean', short: 'q' } },
  });
  if (!values.input || positionals.length) throw new UsageError('kiln load -i FILE.tar');
  const store = await openStore(values.store);
  const loaded = await readDockerArchive(resolve(values.input), store);
  await store.addImage(loaded.manifestDigest);
  for (const tag of loaded.repoTags) {
    const ref = formatReference(parseReference(tag));
    await store.setRef(ref, loaded.manifestDigest);
    if (!values.quiet) io.stdout(`Loaded image: ${tag}\n`);
  }
  if (loaded.repoTags.length === 0 && !values.quiet) io.stdout(`Loaded image ID: ${loaded.manifestDigest}\n`);
  return 0;
}
