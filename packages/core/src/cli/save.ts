// `kiln save [-o FILE] [--format docker|oci] [--platform P] IMAGE...`: images of the store as one
// archive, as `docker save` writes it, to a file or to standard output.

import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { KilnError } from '../errors.js';
import { defaultPlatform, resolveImageManifest } from '../oci/content.js';
import { prepareDockerArchive } from '../oci/docker-archive.js';
import { OciError, formatPlatform, parsePlatform } from '../oci/image.js';
import { prepareOciArchive, writeArchiveFile } from '../oci/oci-archive.js';
import type { ArchiveImage, PreparedArchive } from '../oci/oci-archive.js';
import type { Platform } from '../oci/types.js';
import { formatReference, parseReference, repositoryName } from '../reference/index.js';
import type { ImageReference } from '../reference/index.js';
import type { RefRecord } from '../contracts/refs.js';
import { openStore } from '../store/store.js';
import { findImage, listCatalog } from '../engine/image-catalog.js';
import { fetchImageLayers } from '../engine/remote-layers.js';
import { fetchMissingLayers } from './registry-options.js';
import type { ContentStore } from '../store/types.js';
import { processIo } from './io.js';
import type { CliIo } from './io.js';
import { UsageError } from './usage.js';

export const SAVE_USAGE = `Usage: kiln save [OPTIONS] IMAGE [IMAGE...]

Save one or more images of the store to a tar archive (streamed to standard output by default),
as docker save does; docker load and kiln load read it back.

Options:
  -o, --output FILE        Write to FILE instead of standard output
      --format FORMAT      docker (default): a docker save archive (manifest.json with Config,
                             RepoTags and Layers, the configs and layers, repositories; also an
                             OCI layout, as Docker 25 writes it)
                           oci: an OCI image layout in a tar (oci-layout, index.json with
                             org.opencontainers.image.ref.name and io.containerd.image.name
                             annotations, blobs/sha256/...), which keeps multi-platform images whole
      --platform OS/ARCH[/VARIANT]
                           The platform to save of a multi-platform image (default for
                             --format docker: this machine's, %PLATFORM%; --format oci saves every
                             platform unless this is given)
      --store DIR          Kiln store (default: $KILN_STORE or ~/.cache/kiln/store)

IMAGE is NAME:TAG; NAME alone, which saves every tag of that repository (as docker save does); an
image ID (the config digest; for a multi-platform image the index digest), in full or a unique
prefix of it; or a digest (sha256:... or NAME@sha256:...). Images named by ID or digest are saved
without tags. Several names of one image put it in the archive once, with all those tags.

A docker archive holds one platform per image: of a multi-platform image, kiln save writes this
machine's platform (or the one --platform names), and refuses, naming the platforms it has, when
the image has none for it; --format oci keeps every platform.

Examples:
  kiln save -o images.tar app:1 app:latest worker:2
  kiln save app | gzip > app.tar.gz
  kiln save --format oci -o app-oci.tar app:1
`;

/** `app` (every tag of the repository) as opposed to `app:1`, `app@sha256:...`. */
function isNameOnly(name: string): boolean {
  if (name.includes('@')) return false;
  return !name.slice(name.lastIndexOf('/') + 1).includes(':');
}

function tryParse(name: string): ImageReference | undefined {
  try {
    return parseReference(name);
  } catch {
    return undefined;
  }
}

/**
 * The images `names` name, with docker save's rules: NAME:TAG saves the image with that tag; NAME
 * alone every tag of the repository (or, when it has none, the image whose ID starts with NAME);
 * an ID or a digest saves the image without a tag. One entry per image, tags merged, in the order
 * first named. Throws `No such image: NAME` for the first name that names nothing.
 */
export async function imagesToSave(store: ContentStore, names: readonly string[]): Promise<(ArchiveImage & { tags: string[]; configDigest?: string })[]> {
  const catalog = await listCatalog(store);
  const resolveImage = (_store: ContentStore, name: string) => {
    const image = findImage(catalog, name);
    return { digest: image.digest, ...(image.platforms.length ? {} : { configDigest: image.id }) };
  };
  const byDigest = new Map<string, ArchiveImage & { tags: string[]; configDigest?: string }>();
  const add = (digest: string, configDigest: string | undefined, name: string, tag?: string): void => {
    let image = byDigest.get(digest);
    if (!image) {
      image = { digest, tags: [], name, ...(configDigest ? { configDigest } : {}) };
      byDigest.set(digest, image);
    }
    if (tag !== undefined && !image.tags.includes(tag)) image.tags.push(tag);
  };
  let refs: RefRecord[] | undefined;
  for (const name of names) {
    const parsed = tryParse(name);
    if (parsed && parsed.digest === undefined && isNameOnly(name)) {
      refs ??= await store.listRefs();
      const repo = repositoryName(parsed);
      const tagged = refs
        .filter((r) => {
          const p = tryParse(r.ref);
          return p !== undefined && p.digest === undefined && repositoryName(p) === repo;
        })
        .sort((a, b) => (a.ref < b.ref ? -1 : a.ref > b.ref ? 1 : 0));
      if (tagged.length > 0) {
        for (const r of tagged) {
          const image = resolveImage(store, r.ref);
          add(image.digest, image.configDigest, name, r.ref);
        }
        continue;
      }
    }
    const image = resolveImage(store, name);
    // Named by its tag: saved with it. By ID or digest: without.
    const tag =
      parsed && parsed.digest === undefined && (await store.getRef(formatReference(parsed))) === image.digest
        ? formatReference(parsed)
        : undefined;
    add(image.digest, image.configDigest, name, tag);
  }
  return [...byDigest.values()];
}

/** Writes the archive to standard output, with backpressure; a reader that goes away is an error. */
async function writeToStdout(chunks: AsyncIterable<Buffer>): Promise<void> {
  const out = process.stdout;
  let error: Error | undefined;
  const onError = (e: Error): void => void (error ??= e);
  out.on('error', onError);
  try {
    for await (const chunk of chunks) {
      if (error) break;
      if (!out.write(chunk)) {
        await new Promise<void>((done) => {
          const finish = (): void => {
            out.off('drain', finish);
            out.off('error', finish);
            done();
          };
          out.once('drain', finish);
          out.once('error', finish);
        });
      }
    }
  } finally {
    out.off('error', onError);
  }
  if (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new KilnError(
      code === 'EPIPE'
        ? 'standard output was closed before the whole archive was written'
        : `writing the archive to standard output failed: ${error.message}`,
    );
  }
}

export async function saveCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      output: { type: 'string', short: 'o' },
      format: { type: 'string' },
      platform: { type: 'string' },
      store: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    io.stdout(SAVE_USAGE.replace('%PLATFORM%', formatPlatform(defaultPlatform())));
    return 0;
  }
  if (positionals.length === 0) throw new UsageError('kiln save requires at least 1 argument: kiln save [-o FILE] IMAGE [IMAGE...]');
  const format = values.format ?? 'docker';
  if (format !== 'docker' && format !== 'oci') {
    throw new UsageError(`kiln save: unknown --format ${JSON.stringify(format)}: use docker (a docker save archive, the default) or oci (an OCI image layout)`);
  }
  const platform: Platform | undefined = values.platform !== undefined ? parsePlatform(values.platform) : undefined;
  if (values.output === '') throw new UsageError('kiln save: -o needs a file name');

  // Where the bytes go is settled before any work, as docker refuses a terminal up front.
  if (values.output === undefined) {
    if (io !== processIo) throw new KilnError('kiln save: give -o FILE (this caller provides no standard output for binary data)');
    if (process.stdout.isTTY) throw new KilnError('cowardly refusing to save to a terminal. Use the -o flag or redirect');
  }

  const store = await openStore(values.store);
  // The lease keeps a prune from removing what is being written out.
  await store.withLease(() => saveImages(store, positionals, format, platform, values.output));
  return 0;
}

async function saveImages(store: ContentStore, names: string[], format: 'docker' | 'oci', platform: Platform | undefined, output: string | undefined): Promise<void> {
  const images = await imagesToSave(store, names);
  // An archive holds every layer: base layers still in their registry are fetched first (an
  // index whose other platforms are not here is reported below, as before).
  await fetchMissingLayers(store, async (fetch) => {
    for (const image of images) {
      await fetchImageLayers(store, image.digest, fetch).catch((err: unknown) => {
        if (!(err instanceof OciError)) throw err;
      });
    }
  });

  let prepared: PreparedArchive;
  if (format === 'docker') {
    for (const image of images) {
      if (image.configDigest !== undefined) continue;
      try {
        await resolveImageManifest(store, image.digest, platform);
      } catch (e) {
        if (!(e instanceof OciError)) throw e;
        throw new KilnError(
          `${image.name ?? image.digest} is a multi-platform image, and a docker archive holds one platform per image: ` +
            `${e.message}; or save every platform with --format oci`,
        );
      }
    }
    prepared = await prepareDockerArchive(store, images, platform ? { platform } : {});
  } else {
    let chosen = images;
    if (platform) {
      // One platform of each multi-platform image, as docker save --platform does.
      chosen = [];
      for (const image of images) {
        const { manifest } = await resolveImageManifest(store, image.digest, platform);
        chosen.push({ ...image, digest: manifest.digest });
      }
    }
    prepared = await prepareOciArchive(store, chosen);
  }

  if (output !== undefined) await writeArchiveFile(resolve(output), prepared.chunks());
  else await writeToStdout(prepared.chunks());
}
