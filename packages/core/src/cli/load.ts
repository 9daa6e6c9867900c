// `kiln load [-i FILE] [-q]`: import every image of an archive (`docker save`/`kiln save`, or an
// OCI layout in a tar; plain or compressed) into the store, tagged as it was, as `docker load`.

import { resolve } from 'node:path';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { KilnError } from '../errors.js';
import { loadImageArchive } from '../oci/docker-archive.js';
import type { ArchiveSource, LoadedImage } from '../oci/docker-archive.js';
import { parsePlatform } from '../oci/image.js';
import { formatReference, parseReference } from '../reference/index.js';
import { openStore } from '../store/store.js';
import { processIo } from './io.js';
import type { CliIo } from './io.js';
import { UsageError } from './usage.js';

export const LOAD_USAGE = `Usage: kiln load [OPTIONS]

Load images from a tar archive or standard input into the store, as docker load does: a docker
save archive (kiln save's default; any Docker's) or an OCI image layout in a tar (kiln save
--format oci, docker/containerd exports, skopeo oci-archive:), plain or compressed (gzip, bzip2,
xz, zstd; detected from the first bytes). Every image of the archive is loaded, with its tags;
prints "Loaded image: NAME:TAG" per tag and "Loaded image ID: sha256:..." per untagged image.

Options:
  -i, --input FILE         Read from FILE instead of standard input
  -q, --quiet              Accepted for docker's sake: kiln load prints no progress, only the
                             Loaded image lines (which docker load -q prints too)
      --platform OS/ARCH[/VARIANT]
                           For a multi-platform image the archive holds only in part: the platform
                             to load (default: this machine's)
      --store DIR          Kiln store (default: $KILN_STORE or ~/.cache/kiln/store)

Examples:
  kiln load -i images.tar
  docker save app:1 | gzip | kiln load
`;

/** Standard input as a stream: the process's own (streamed), else what the caller's CliIo reads. */
async function stdinSource(io: CliIo): Promise<ArchiveSource> {
  if (io === processIo) {
    if (process.stdin.isTTY) throw new KilnError('requested load from stdin, but stdin is empty (give -i FILE, or pipe an archive in)');
    return process.stdin;
  }
  return Readable.from([Buffer.from(await io.readStdin())], { objectMode: false });
}

export async function loadCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      input: { type: 'string', short: 'i' },
      store: { type: 'string' },
      quiet: { type: 'boolean', short: 'q' },
      platform: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    io.stdout(LOAD_USAGE);
    return 0;
  }
  if (positionals.length) throw new UsageError('kiln load takes no arguments: kiln load [-i FILE] [-q]');
  if (values.input === '') throw new UsageError('kiln load: -i needs a file name');
  const platform = values.platform !== undefined ? parsePlatform(values.platform) : undefined;
  const store = await openStore(values.store);

  const source = values.input !== undefined ? resolve(values.input) : await stdinSource(io);
  const name = values.input !== undefined ? values.input : 'standard input';
  // Nothing is recorded until the whole archive has been read and checked.
  // Under a lease: a prune waits until the images are recorded (their blobs are no one's before).
  const loaded: LoadedImage[] = await store.withLease(async () => {
    const images = await loadImageArchive(source, store, { name, ...(platform ? { platform } : {}) });
    for (const image of images) await store.addImage(image.digest);
    return images;
  });

  for (const image of loaded) {
    for (const tag of image.repoTags) {
      await store.setRef(formatReference(parseReference(tag)), image.digest);
      io.stdout(`Loaded image: ${tag}\n`);
    }
    if (image.repoTags.length === 0) io.stdout(`Loaded image ID: ${image.id}\n`);
  }
  return 0;
}
