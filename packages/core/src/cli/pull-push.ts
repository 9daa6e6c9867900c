// `kiln pull NAME[:TAG|@DIGEST]` and `kiln push NAME[:TAG]`.

import { parseArgs } from 'node:util';
import { KilnError } from '../errors.js';
import { parsePlatform } from '../oci/image.js';
import { familiarName, formatReference, parseReference } from '../reference/index.js';
import { openStore } from '../store/store.js';
import type { CliIo } from './io.js';
import { registryClient, registryOptions } from './registry-options.js';
import { UsageError } from './usage.js';

export async function pullCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { ...registryOptions, store: { type: 'string' }, platform: { type: 'string' }, quiet: { type: 'boolean', short: 'q' } },
  });
  if (positionals.length !== 1) throw new UsageError('kiln pull NAME[:TAG|@DIGEST]');
  const ref = parseReference(positionals[0]!);
  const store = await openStore(values.store);
  const client = registryClient(values);
  try {
    const pulled = await store.withLease(async () => {
      const got = await client.pull(ref, store, values.platform ? { platform: parsePlatform(values.platform) } : {});
      await store.addImage(got.indexDigest ?? got.manifestDigest);
      return got;
    });
    if (!ref.digest) await store.setRef(formatReference(ref), pulled.indexDigest ?? pulled.manifestDigest);
    const digest = pulled.indexDigest ?? pulled.manifestDigest;
    io.stdout(values.quiet ? `${formatReference(ref)}\n` : `Digest: ${digest}\nStatus: Downloaded ${familiarName(ref)}\n${formatReference(ref)}\n`);
    return 0;
  } finally {
    client.close();
  }
}

export async function pushCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { ...registryOptions, store: { type: 'string' }, quiet: { type: 'boolean', short: 'q' } },
  });
  if (positionals.length !== 1) throw new UsageError('kiln push NAME[:TAG]');
  const ref = parseReference(positionals[0]!);
  const store = await openStore(values.store);
  const digest = ref.digest ?? (await store.getRef(formatReference(ref)));
  if (!digest) throw new KilnError(`image "${positionals[0]}" is not in the Kiln store at ${store.root}: build it with -t first`);
  const client = registryClient(values);
  try {
    const result = await store.withLease(() => client.push(store, digest, [ref]));
    io.stdout(
      values.quiet
        ? `${result.digest}\n`
        : `${familiarName(ref)}: digest: ${result.digest} (${result.uploadedBlobs} blobs uploaded, ${result.mountedBlobs} mounted, ${result.existingBlobs} already there)\n`,
    );
    return 0;
  } finally {
    client.close();
  }
}
