// `kiln pull NAME[:TAG|@DIGEST]` and `kiln push NAME[:TAG]`. Per-layer progress goes to stderr
// (`--progress auto|tty|plain|quiet`, transfer-progress.ts); stdout holds the result only.

import { parseArgs } from 'node:util';
import { KilnError } from '../errors.js';
import { parsePushCompression, pushToRegistry } from '../engine/distribution.js';
import { parsePlatform } from '../oci/image.js';
import { familiarName, formatReference, parseReference, repositoryName } from '../reference/index.js';
import { openStore } from '../store/store.js';
import type { CliIo } from './io.js';
import { registryClient, registryOptions } from './registry-options.js';
import { TransferProgress, transferMode } from './transfer-progress.js';
import { UsageError } from './usage.js';

/**
 * `--progress` (docker's choices; `-q` is quiet): tty redraws one line per layer in place, plain
 * prints a line when a layer starts and when it is done, auto picks tty on a terminal (TERM not
 * dumb), else plain. Undefined: nothing to draw.
 */
function transferRenderer(progress: string | undefined, quiet: boolean | undefined, verb: 'pull' | 'push', io: CliIo): TransferProgress | undefined {
  const choice = quiet ? 'quiet' : (progress ?? 'auto');
  if (!['auto', 'plain', 'quiet', 'tty'].includes(choice)) throw new UsageError(`--progress must be auto, tty, plain or quiet, not "${choice}"`);
  const mode = transferMode(choice, io);
  if (!mode) return undefined;
  return new TransferProgress({
    mode,
    verb,
    write: (text) => io.stderr(text),
    columns: () => io.stderrColumns,
    rows: () => io.stderrRows,
    color: !process.env.NO_COLOR,
  });
}

export async function pullCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      ...registryOptions,
      store: { type: 'string' },
      platform: { type: 'string' },
      quiet: { type: 'boolean', short: 'q' },
      progress: { type: 'string' },
    },
  });
  if (positionals.length !== 1) throw new UsageError('kiln pull NAME[:TAG|@DIGEST]');
  const ref = parseReference(positionals[0]!);
  const render = transferRenderer(values.progress, values.quiet, 'pull', io);
  const store = await openStore(values.store);
  const client = registryClient(values);
  try {
    const options = {
      ...(values.platform ? { platform: parsePlatform(values.platform) } : {}),
      ...(render ? { onProgress: render.onProgress } : {}),
    };
    const pulled = await store.withLease(async () => {
      const got = await client.pull(ref, store, options);
      await store.addImage(got.indexDigest ?? got.manifestDigest, `${repositoryName(ref)}@${got.indexDigest ?? got.manifestDigest}`);
      return got;
    });
    render?.stop('finished');
    if (!ref.digest) await store.setRef(formatReference(ref), pulled.indexDigest ?? pulled.manifestDigest);
    const digest = pulled.indexDigest ?? pulled.manifestDigest;
    io.stdout(values.quiet ? `${formatReference(ref)}\n` : `Digest: ${digest}\nStatus: Downloaded ${familiarName(ref)}\n${formatReference(ref)}\n`);
    return 0;
  } finally {
    render?.stop('error'); // nothing if stopped already: the last frame before the error is printed
    client.close();
  }
}

export async function pushCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { ...registryOptions, store: { type: 'string' }, quiet: { type: 'boolean', short: 'q' }, progress: { type: 'string' }, compression: { type: 'string' } },
  });
  if (positionals.length !== 1) throw new UsageError('kiln push NAME[:TAG]');
  let compression;
  try {
    compression = parsePushCompression(values.compression ?? 'gzip', '--compression');
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const ref = parseReference(positionals[0]!);
  const render = transferRenderer(values.progress, values.quiet, 'push', io);
  const store = await openStore(values.store);
  const digest = ref.digest ?? (await store.getRef(formatReference(ref)));
  if (!digest) throw new KilnError(`image "${positionals[0]}" is not in the Kiln store at ${store.root}: build it with -t first`);
  const client = registryClient(values);
  try {
    const result = await pushToRegistry(store, client, digest, [ref], { compression, ...(render ? { onProgress: render.onProgress } : {}) });
    render?.stop('finished');
    io.stdout(
      values.quiet
        ? `${result.digest}\n`
        : `${familiarName(ref)}: digest: ${result.digest} (${result.uploadedBlobs} blobs uploaded, ${result.mountedBlobs} mounted, ${result.existingBlobs} already there)\n`,
    );
    return 0;
  } finally {
    render?.stop('error');
    client.close();
  }
}
