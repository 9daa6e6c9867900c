// `kiln image prune`, `kiln builder prune`, `kiln system prune` and `kiln system df`: docker's
// verbs for what the store holds and what can go. Everything they remove is removed with no
// build, pull, load or push running on the store (they wait for those to end).

import { parseArgs } from 'node:util';
import { KilnError } from '../errors.js';
import { createdMs, listCatalog, type CatalogImage } from '../engine/image-catalog.js';
import { blobsOfImages, diskUsage, imageTops, sized, sweepBlobs, type SizedDirectory } from '../engine/garbage.js';
import { openStore } from '../store/store.js';
import type { ContentStore } from '../store/types.js';
import type { StoredCacheRecord } from '../contracts/maintenance.js';
import { chainIds } from '../oci/digest.js';
import { formatRows } from './format.js';
import { parseRamInBytes } from '../dockerfile/run-mount.js';
import { humanSize, parseGoDuration, since } from './human-units.js';
import type { CliIo } from './io.js';
import { helpRequested, UsageError } from './usage.js';

/** docker's prompt; anything but y/Y (stdin at its end included) is no. */
async function confirmed(io: CliIo, warning: string, force: boolean | undefined): Promise<boolean> {
  if (force) return true;
  io.stdout(`${warning}\nAre you sure you want to continue? [y/N] `);
  const answer = (io.readLine ? await io.readLine() : Buffer.from(await io.readStdin()).toString('utf8').split('\n')[0]!).trim();
  return answer === 'y' || answer === 'Y';
}

interface PruneFilters {
  /** Only what was created (last used, for the build cache) before this time (ms). */
  until?: number;
  labels: { key: string; value?: string; negate: boolean }[];
}

function parsePruneFilters(values: readonly string[]): PruneFilters {
  const out: PruneFilters = { labels: [] };
  for (const v of values) {
    const eq = v.indexOf('=');
    const key = eq > 0 ? v.slice(0, eq) : v;
    const value = eq > 0 ? v.slice(eq + 1) : '';
    if (key === 'until') {
      const ms = parseGoDuration(value) ?? NaN;
      const at = Number.isFinite(ms) ? Date.now() - ms : Date.parse(value);
      if (!Number.isFinite(at)) throw new KilnError(`invalid filter 'until=${value}': use a duration (24h, 10m) or a timestamp`);
      out.until = at;
    } else if (key === 'label' || key === 'label!') {
      const e = value.indexOf('=');
      out.labels.push({ key: e < 0 ? value : value.slice(0, e), ...(e < 0 ? {} : { value: value.slice(e + 1) }), negate: key === 'label!' });
    } else {
      throw new KilnError(`invalid filter '${key}' (use until=DURATION or label=KEY[=VALUE])`);
    }
  }
  return out;
}

function labelsMatch(image: CatalogImage, filters: PruneFilters): boolean {
  const labels = image.config.config?.Labels ?? {};
  return filters.labels.every((l) => {
    const has = l.value === undefined ? l.key in labels : labels[l.key] === l.value;
    return l.negate ? !has : has;
  });
}

// ---- image prune ---------------------------------------------------------------------------

const IMAGE_PRUNE_HELP = `Usage: kiln image prune [OPTIONS]

Remove dangling images (no tag); with -a, every image. Their blobs leave the disk unless the
build cache needs them (kiln builder prune removes those).

Options:
  -a, --all             Remove all images, not just dangling ones
  -f, --force           Do not prompt for confirmation
      --filter FILTER   until=DURATION|TIMESTAMP, label=KEY[=VALUE], label!=KEY[=VALUE]
      --store DIR       Kiln store

Example:
  kiln image prune -a -f --filter until=24h
`;

/** Remove the images' records and tags; their blobs go with the caller's sweep. */
async function pruneImages(store: ContentStore, all: boolean, filters: PruneFilters): Promise<string[]> {
  const lines: string[] = [];
  // Images kept containers ran stay, as docker keeps images containers use.
  const used = new Set((await store.listContainers()).map((c) => c.imageDigest));
  for (const image of await listCatalog(store)) {
    if (!all && image.refs.length > 0) continue;
    if (used.has(image.digest)) continue;
    if (filters.until !== undefined && createdMs(image) >= filters.until) continue;
    if (!labelsMatch(image, filters)) continue;
    for (const [i, ref] of image.refs.entries()) {
      await store.deleteRef(ref);
      lines.push(`untagged: ${image.repoTags[i]}`);
    }
    await store.removeImage(image.digest);
    lines.push(`deleted: ${image.id}`);
  }
  return lines;
}

export async function imagePruneCommand(args: string[], io: CliIo): Promise<number> {
  if (helpRequested(args)) return void io.stdout(IMAGE_PRUNE_HELP), 0;
  const { values } = parseArgs({
    args,
    options: { all: { type: 'boolean', short: 'a' }, force: { type: 'boolean', short: 'f' }, filter: { type: 'string', multiple: true }, store: { type: 'string' } },
  });
  const filters = parsePruneFilters(values.filter ?? []);
  const warning = values.all ? 'WARNING! This will remove all images without at least one container associated to them.' : 'WARNING! This will remove all dangling images.';
  if (!(await confirmed(io, warning, values.force))) return 0;
  const store = await openStore(values.store);
  const { lines, bytes } = await store.withoutLeases(
    async () => {
      const removed = await pruneImages(store, !!values.all, filters);
      return { lines: removed, bytes: (await sweepBlobs(store)).bytes };
    },
    { waiting: waitingNote(io) },
  );
  if (lines.length) io.stdout(`Deleted Images:\n${lines.join('\n')}\n\n`);
  io.stdout(`Total reclaimed space: ${humanSize(bytes)}\n`);
  return 0;
}

function waitingNote(io: CliIo): (leases: number) => void {
  return (n) => io.stderr(`waiting for ${n} build${n === 1 ? '' : 's'} (or pulls, loads, pushes) using the store to end\n`);
}

// ---- builder prune -------------------------------------------------------------------------

const BUILDER_PRUNE_HELP = `Usage: kiln builder prune [OPTIONS]

Remove build cache: build-cache records and the layers only they keep, the unpacked layers RUN
mounts (RUN's rootfs cache) and, with -a, the RUN cache mounts (--mount=type=cache).
Without -a, records whose layer no image uses, and unpacked layers no image uses.

Options:
  -a, --all                  Remove all build cache
  -f, --force                Do not prompt for confirmation
      --filter until=DURATION   Only what was last used longer ago than DURATION (24h, 30m)
      --keep-storage SIZE    Keep the most recently used cache, up to SIZE (512MB, 10GB)
      --store DIR            Kiln store

Example:
  kiln builder prune -f --keep-storage 5GB
`;

type CacheEntry =
  | { kind: 'record'; used: number; size: number; record: StoredCacheRecord }
  | { kind: 'unpacked' | 'mount'; used: number; size: number; dir: SizedDirectory };

/** Remove build cache; the bytes of what it removed, but for the layers the caller's sweep removes. */
async function pruneBuilder(store: ContentStore, all: boolean, filters: PruneFilters, keepStorage: number | undefined, warn: (message: string) => void): Promise<{ ids: string[]; bytes: number }> {
  const images = await listCatalog(store);
  // Every platform's blobs of every image (and of what kept containers ran).
  const imageLayers = await blobsOfImages(store, [...imageTops(await store.listImages()), ...(await store.listContainers()).map((c) => c.imageDigest)]);
  const blobSizes = new Map((await store.listBlobs()).map((b) => [b.digest, b.size]));
  const entries: CacheEntry[] = [];
  for (const record of await store.listCacheRecords()) {
    const layer = record.record.layer;
    // A layer an image holds stays anyway: removing its record frees only the record file.
    const size = record.size + (layer && !imageLayers.has(layer.digest) ? (blobSizes.get(layer.digest) ?? 0) : 0);
    if (!all && layer && imageLayers.has(layer.digest)) continue;
    entries.push({ kind: 'record', used: record.used, size, record });
  }
  const inImages = unpackedNamesOfImages(images);
  for (const dir of await sized(await store.listUnpackedLayers())) {
    if (!all && inImages.has(dir.name)) continue;
    entries.push({ kind: 'unpacked', used: dir.used, size: dir.size, dir });
  }
  if (all) for (const dir of await sized(await store.listCacheMounts())) entries.push({ kind: 'mount', used: dir.used, size: dir.size, dir });

  // Oldest first; --keep-storage keeps the newest that fit.
  let candidates = entries.filter((e) => filters.until === undefined || e.used < filters.until).sort((a, b) => a.used - b.used);
  if (keepStorage !== undefined) {
    let kept = 0;
    const keep = new Set<CacheEntry>();
    for (const e of [...candidates].reverse()) {
      if (kept + e.size > keepStorage) break;
      kept += e.size;
      keep.add(e);
    }
    candidates = candidates.filter((e) => !keep.has(e));
  }
  const ids: string[] = [];
  let bytes = 0;
  for (const e of candidates) {
    if (e.kind === 'record') {
      await store.removeCacheRecord(e.record.id);
      ids.push(e.record.id.slice(0, 25));
      bytes += e.record.size; // the layer, when it goes, is counted by the sweep
    } else {
      try {
        await store.removeDirectory(e.dir);
      } catch (err) {
        if (!(err instanceof KilnError)) throw err;
        warn(err.message);
        continue;
      }
      ids.push(`${e.kind === 'mount' ? 'cache mount' : 'rootfs'} ${e.dir.description ?? e.dir.name.slice(0, 12)}`);
      bytes += e.size;
    }
  }
  return { ids, bytes };
}

/** Chain-ID hexes of the layers images have (their unpacked directories). */
function unpackedNamesOfImages(images: readonly CatalogImage[]): Set<string> {
  return new Set(images.flatMap((i) => chainIds(i.config.rootfs?.diff_ids ?? []).map((c) => c.replace(/^sha256:/, ''))));
}

export async function builderPruneCommand(args: string[], io: CliIo): Promise<number> {
  if (helpRequested(args)) return void io.stdout(BUILDER_PRUNE_HELP), 0;
  const { values } = parseArgs({
    args,
    options: {
      all: { type: 'boolean', short: 'a' },
      force: { type: 'boolean', short: 'f' },
      filter: { type: 'string', multiple: true },
      'keep-storage': { type: 'string' },
      store: { type: 'string' },
    },
  });
  const filters = parsePruneFilters(values.filter ?? []);
  if (filters.labels.length) throw new KilnError('builder prune filters by until= only (build cache has no labels)');
  const keep = values['keep-storage'] === undefined ? undefined : parseRamInBytes(values['keep-storage'].trim());
  if (values['keep-storage'] !== undefined && keep === undefined) throw new UsageError(`--keep-storage takes a size such as 512MB or 10GB, not "${values['keep-storage']}"`);
  if (!(await confirmed(io, values.all ? 'WARNING! This will remove all build cache.' : 'WARNING! This will remove all dangling build cache.', values.force))) return 0;
  const store = await openStore(values.store);
  const warn = (message: string) => io.stderr(`WARNING: ${message}\n`);
  const { ids, bytes } = await store.withoutLeases(
    async () => {
      const removed = await pruneBuilder(store, !!values.all, filters, keep, warn);
      return { ids: removed.ids, bytes: removed.bytes + (await sweepBlobs(store)).bytes };
    },
    { waiting: waitingNote(io) },
  );
  if (ids.length) io.stdout(`Deleted build cache objects:\n${ids.join('\n')}\n\n`);
  io.stdout(`Total reclaimed space: ${humanSize(bytes)}\n`);
  return 0;
}

// ---- system prune --------------------------------------------------------------------------

const SYSTEM_PRUNE_HELP = `Usage: kiln system prune [OPTIONS]

Remove dangling images and dangling build cache; with -a, every image and all build cache
(RUN cache mounts included).

Options:
  -a, --all            Remove all images and all build cache
  -f, --force          Do not prompt for confirmation
      --filter FILTER  until=DURATION, label=KEY[=VALUE]
      --store DIR      Kiln store

Example:
  kiln system prune -a -f
`;

export async function systemPruneCommand(args: string[], io: CliIo): Promise<number> {
  if (helpRequested(args)) return void io.stdout(SYSTEM_PRUNE_HELP), 0;
  const { values } = parseArgs({
    args,
    options: { all: { type: 'boolean', short: 'a' }, force: { type: 'boolean', short: 'f' }, filter: { type: 'string', multiple: true }, store: { type: 'string' } },
  });
  const filters = parsePruneFilters(values.filter ?? []);
  const warning = values.all
    ? 'WARNING! This will remove:\n  - all stopped containers\n  - all images without at least one container associated to them\n  - all build cache'
    : 'WARNING! This will remove:\n  - all stopped containers\n  - all dangling images\n  - all dangling build cache';
  if (!(await confirmed(io, warning, values.force))) return 0;
  const store = await openStore(values.store);
  const total = await store.withoutLeases(
    async () => {
      // kiln run's containers have all stopped: they go first, as docker's stopped containers do.
      const containers = await store.listContainers();
      for (const c of containers) await store.removeContainer(c.id);
      if (containers.length) io.stdout(`Deleted Containers:\n${containers.map((c) => c.id).join('\n')}\n\n`);
      const images = await pruneImages(store, !!values.all, filters);
      if (images.length) io.stdout(`Deleted Images:\n${images.join('\n')}\n\n`);
      const cache = await pruneBuilder(store, !!values.all, { ...filters, labels: [] }, undefined, (message) => io.stderr(`WARNING: ${message}\n`));
      if (cache.ids.length) io.stdout(`Deleted build cache objects:\n${cache.ids.join('\n')}\n\n`);
      // One sweep for all three: what none of them needs any more leaves the disk.
      return cache.bytes + (await sweepBlobs(store)).bytes;
    },
    { waiting: waitingNote(io) },
  );
  io.stdout(`Total reclaimed space: ${humanSize(total)}\n`);
  return 0;
}

// ---- system df -----------------------------------------------------------------------------

const DF_HELP = `Usage: kiln system df [OPTIONS]

Show the store's disk usage, as docker system df does: images, containers kiln run kept, the
build cache, the unpacked layers RUN mounts (RUN rootfs cache) and the RUN cache mounts.

Options:
      --format STRING   A Go template ({{.Type}}, {{.TotalCount}}, {{.Active}}, {{.Size}},
                        {{.Reclaimable}}), "table ...", or json
  -v, --verbose         Show each image, cache record, unpacked layer and cache mount
      --store DIR       Kiln store

Example:
  kiln system df -v
`;

const DF_HEADERS = { Type: 'TYPE', TotalCount: 'TOTAL', Active: 'ACTIVE', Size: 'SIZE', Reclaimable: 'RECLAIMABLE' };

const percent = (part: number, whole: number) => (whole > 0 ? ` (${Math.round((part * 100) / whole)}%)` : '');

export async function systemDfCommand(args: string[], io: CliIo): Promise<number> {
  if (helpRequested(args)) return void io.stdout(DF_HELP), 0;
  const { values } = parseArgs({ args, options: { format: { type: 'string' }, verbose: { type: 'boolean', short: 'v' }, store: { type: 'string' } } });
  const store = await openStore(values.store);
  const usage = await store.withLease(() => diskUsage(store));
  const row = (type: string, total: number, active: number, size: number, reclaimable: number) => ({
    Type: type,
    TotalCount: String(total),
    Active: String(active),
    Size: humanSize(size, 4),
    Reclaimable: `${humanSize(reclaimable, 4)}${percent(reclaimable, size)}`,
  });
  const rows = [
    row('Images', usage.images.total, usage.images.active, usage.images.size, usage.images.reclaimable),
    row('Containers', usage.containers.total, 0, usage.containers.size, usage.containers.size),
    row('Build Cache', usage.buildCache.total, 0, usage.buildCache.size, usage.buildCache.reclaimable),
    row('RUN rootfs cache', usage.unpacked.total, 0, usage.unpacked.size, usage.unpacked.size),
    row('RUN cache mounts', usage.cacheMounts.total, 0, usage.cacheMounts.size, usage.cacheMounts.size),
  ];
  if (!values.verbose) {
    io.stdout(formatRows({ format: values.format, defaultTable: 'table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}', headers: DF_HEADERS, rows }));
    return 0;
  }
  const now = Date.now();
  const images = await listCatalog(store);
  io.stdout('Images space usage:\n\n');
  io.stdout(
    formatRows({
      defaultTable: 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}',
      headers: { Repository: 'REPOSITORY', Tag: 'TAG', ID: 'IMAGE ID', CreatedSince: 'CREATED', Size: 'SIZE' },
      rows: images.flatMap((i) =>
        (i.repoTags.length ? i.repoTags : ['<none>:<none>']).map((t) => ({
          Repository: t.slice(0, t.lastIndexOf(':')),
          Tag: t.slice(t.lastIndexOf(':') + 1),
          ID: i.id.replace(/^sha256:/, '').slice(0, 12),
          CreatedSince: since(createdMs(i), now),
          Size: humanSize(i.size),
        })),
      ),
    }),
  );
  io.stdout('\nBuild cache usage: ' + humanSize(usage.buildCache.size, 4) + '\n\n');
  io.stdout(
    formatRows({
      defaultTable: 'table {{.ID}}\t{{.Type}}\t{{.Size}}\t{{.LastUsed}}',
      headers: { ID: 'CACHE ID', Type: 'CACHE TYPE', Size: 'SIZE', LastUsed: 'LAST USED' },
      rows: [
        ...usage.buildCache.records.map((r) => ({ ID: r.id.slice(0, 12), Type: r.record.layer ? 'regular' : 'metadata', Size: humanSize(r.size + (r.record.layer?.size ?? 0)), LastUsed: since(r.used, now) })),
        ...usage.unpacked.dirs.map((d) => ({ ID: d.name.slice(0, 12), Type: 'rootfs', Size: humanSize(d.size), LastUsed: since(d.used, now) })),
        ...usage.cacheMounts.dirs.map((d) => ({ ID: d.description ?? d.name.slice(0, 12), Type: 'exec.cachemount', Size: humanSize(d.size), LastUsed: since(d.used, now) })),
      ],
    }),
  );
  return 0;
}
