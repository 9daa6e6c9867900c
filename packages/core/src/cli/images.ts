// Docker's image verbs over the Kiln store: `images` (`image ls`), `inspect` (`image inspect`),
// `history`, `tag`, `rmi` (`image rm`). Columns, `--format` fields, JSON and messages are
// docker's (20.10), for what Kiln can know.

import { parseArgs } from 'node:util';
import { KilnError } from '../errors.js';
import { createdMs, findImage, listCatalog, normalizedRef, NoSuchImageError, type CatalogImage } from '../engine/image-catalog.js';
import { sweepBlobs } from '../engine/garbage.js';
import { isValidPattern, pathMatch } from '../context/glob.js';
import { parseReference } from '../reference/index.js';
import { openStore } from '../store/store.js';
import type { ContentStore } from '../store/types.js';
import { formatRows, renderTemplate } from './format.js';
import { goTimeString, humanSize, since } from './human-units.js';
import type { CliIo } from './io.js';
import { helpRequested, UsageError } from './usage.js';

const shortId = (id: string) => id.replace(/^sha256:/, '').slice(0, 12);

// ---- kiln images ---------------------------------------------------------------------------

const IMAGES_HELP = `Usage: kiln images [OPTIONS] [REPOSITORY[:TAG]]   (also: kiln image ls)

List the images in the store, as docker images does.

Options:
  -a, --all             Show all images (Kiln keeps no intermediate images: same as without)
      --digests         Show digests
  -f, --filter FILTER   dangling=true|false, before=IMAGE, since=IMAGE, reference=PATTERN,
                        label=KEY[=VALUE] (repeatable; the same key: any; different keys: all)
      --format STRING   A Go template ({{.ID}}, {{.Repository}}, {{.Tag}}, {{.Digest}},
                        {{.CreatedSince}}, {{.CreatedAt}}, {{.Size}}), "table ...", or json
      --no-trunc        Do not truncate image IDs
  -q, --quiet           Only show image IDs
      --store DIR       Kiln store

Example:
  kiln images --filter reference='app*' --format '{{.Repository}}:{{.Tag}} {{.Size}}'
`;

const IMAGE_HEADERS = {
  ID: 'IMAGE ID', Repository: 'REPOSITORY', Tag: 'TAG', Digest: 'DIGEST', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT',
  Size: 'SIZE', SharedSize: 'SHARED SIZE', UniqueSize: 'UNIQUE SIZE', VirtualSize: 'VIRTUAL SIZE', Containers: 'CONTAINERS',
};

/** path.Match, as docker's reference filter uses it (a bad pattern matches nothing). */
function globMatch(pattern: string, value: string): boolean {
  return isValidPattern(pattern) && pathMatch(pattern, value);
}

interface ImageFilter {
  /** Which of the image's tags (familiar) pass, or false to drop the image. */
  (image: CatalogImage, tags: string[]): string[] | false;
}

function parseFilters(values: readonly string[], images: readonly CatalogImage[]): ImageFilter {
  const byKey = new Map<string, string[]>();
  for (const v of values) {
    const eq = v.indexOf('=');
    if (eq <= 0) throw new UsageError(`bad format of filter (expected name=value): ${v}`);
    const key = v.slice(0, eq);
    if (!['dangling', 'before', 'since', 'reference', 'label'].includes(key)) throw new KilnError(`invalid filter '${key}'`);
    byKey.set(key, [...(byKey.get(key) ?? []), v.slice(eq + 1)]);
  }
  const at = (name: string) => createdMs(findImage(images, name));
  return (image, tags) => {
    const dangling = byKey.get('dangling');
    if (dangling) {
      const want = dangling.map((d) => {
        if (!['true', 'false', '1', '0'].includes(d.toLowerCase())) throw new KilnError(`invalid filter 'dangling=${d}'`);
        return d === 'true' || d === '1';
      });
      if (!want.includes(tags.length === 0)) return false;
    }
    const before = byKey.get('before');
    if (before && !before.some((b) => createdMs(image) < at(b))) return false;
    const sinceImage = byKey.get('since');
    if (sinceImage && !sinceImage.some((s) => createdMs(image) > at(s))) return false;
    const labels = byKey.get('label');
    if (labels) {
      const mine = image.config.config?.Labels ?? {};
      const ok = labels.some((l) => {
        const eq = l.indexOf('=');
        return eq < 0 ? l in mine : mine[l.slice(0, eq)] === l.slice(eq + 1);
      });
      if (!ok) return false;
    }
    const patterns = byKey.get('reference');
    if (patterns) {
      const kept = tags.filter((t) => patterns.some((p) => globMatch(p, t) || globMatch(p, t.slice(0, t.lastIndexOf(':')))));
      if (kept.length === 0) return false;
      return kept;
    }
    return tags;
  };
}

function splitTag(tag: string): [string, string] {
  const colon = tag.lastIndexOf(':');
  return colon > tag.lastIndexOf('/') ? [tag.slice(0, colon), tag.slice(colon + 1)] : [tag, '<none>'];
}

export async function imagesCommand(args: string[], io: CliIo): Promise<number> {
  if (helpRequested(args)) return void io.stdout(IMAGES_HELP), 0;
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      all: { type: 'boolean', short: 'a' },
      digests: { type: 'boolean' },
      filter: { type: 'string', short: 'f', multiple: true },
      format: { type: 'string' },
      'no-trunc': { type: 'boolean' },
      quiet: { type: 'boolean', short: 'q' },
      store: { type: 'string' },
    },
  });
  if (positionals.length > 1) throw new UsageError('kiln images takes at most one REPOSITORY[:TAG]');
  const store = await openStore(values.store);
  const images = await listCatalog(store);
  const filter = parseFilters(values.filter ?? [], images);
  const [repoWanted, tagWanted] = positionals[0] ? splitTag(positionals[0]) : [undefined, undefined];
  const now = Date.now();
  const rows: Record<string, string>[] = [];
  for (const image of images) {
    let tags = filter(image, image.repoTags);
    if (tags === false) continue;
    if (repoWanted !== undefined) {
      tags = tags.filter((t) => {
        const [repo, tag] = splitTag(t);
        return globMatch(repoWanted, repo) && (tagWanted === '<none>' || globMatch(tagWanted!, tag));
      });
      if (tags.length === 0) continue;
    }
    const created = createdMs(image);
    const base = {
      ID: values['no-trunc'] ? image.id : shortId(image.id),
      Digest: '<none>',
      CreatedSince: since(created, now),
      CreatedAt: goTimeString(created),
      Size: humanSize(image.size),
      SharedSize: 'N/A',
      UniqueSize: 'N/A',
      VirtualSize: humanSize(image.size),
      Containers: 'N/A',
    };
    // The digest a registry has the image under, for the row's repository (as docker: `<none>`
    // for what no registry served or received).
    const digestIn = (repo: string) => image.repoDigests.find((r) => r.slice(0, r.indexOf('@')) === repo)?.slice(repo.length + 1) ?? '<none>';
    if (tags.length === 0) rows.push({ ...base, Repository: '<none>', Tag: '<none>' });
    for (const t of tags) {
      const [repo, tag] = splitTag(t);
      rows.push({ ...base, Repository: repo, Tag: tag, Digest: digestIn(repo) });
    }
  }
  const defaultTable = values.digests
    ? 'table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}'
    : 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}';
  io.stdout(formatRows({ format: values.format, quiet: values.quiet, defaultTable, headers: IMAGE_HEADERS, rows }));
  return 0;
}

// ---- kiln inspect --------------------------------------------------------------------------

const INSPECT_HELP = `Usage: kiln inspect [OPTIONS] IMAGE [IMAGE...]   (also: kiln image inspect)

Show images as docker image inspect does (JSON array), or one template per image.

Options:
  -f, --format STRING   A Go template, e.g. '{{.Config.Env}}' or '{{json .RootFS}}'
      --store DIR       Kiln store

Example:
  kiln inspect --format '{{.Id}} {{.Architecture}}' app:1
`;

/** An image as `docker image inspect` shows it (docker 20.10's fields that Kiln can know). */
export function inspectDocument(image: CatalogImage): Record<string, unknown> {
  const c = image.config.config ?? {};
  const history = image.config.history ?? [];
  const config = {
    Hostname: '',
    Domainname: '',
    User: c.User ?? '',
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    ...(c.ExposedPorts ? { ExposedPorts: c.ExposedPorts } : {}),
    Tty: false,
    OpenStdin: false,
    StdinOnce: false,
    Env: c.Env ?? null,
    Cmd: c.Cmd ?? null,
    ...(c.Healthcheck ? { Healthcheck: c.Healthcheck } : {}),
    ...(c.ArgsEscaped ? { ArgsEscaped: c.ArgsEscaped } : {}),
    Image: '',
    Volumes: c.Volumes ?? null,
    WorkingDir: c.WorkingDir ?? '',
    Entrypoint: c.Entrypoint ?? null,
    OnBuild: c.OnBuild ?? null,
    Labels: c.Labels ?? null,
    ...(c.StopSignal ? { StopSignal: c.StopSignal } : {}),
    ...(c.Shell ? { Shell: c.Shell } : {}),
  };
  return {
    Id: image.id,
    RepoTags: image.repoTags,
    RepoDigests: image.repoDigests,
    Parent: '',
    Comment: history.at(-1)?.comment ?? '',
    Created: image.config.created ?? new Date(image.added).toISOString(),
    Container: '',
    DockerVersion: '',
    Author: image.config.author ?? '',
    Config: config,
    Architecture: image.config.architecture,
    ...(image.config.variant ? { Variant: image.config.variant } : {}),
    Os: image.config.os,
    Size: image.size,
    VirtualSize: image.size,
    RootFS: { Type: 'layers', Layers: image.config.rootfs?.diff_ids ?? [] },
    Metadata: { LastTagTime: '0001-01-01T00:00:00Z' },
  };
}

export async function inspectCommand(args: string[], io: CliIo): Promise<number> {
  if (helpRequested(args)) return void io.stdout(INSPECT_HELP), 0;
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { format: { type: 'string', short: 'f' }, store: { type: 'string' }, type: { type: 'string' } },
  });
  if (positionals.length === 0) throw new UsageError('kiln inspect needs at least one IMAGE');
  if (values.type && values.type !== 'image') throw new UsageError(`kiln inspect knows images only, not --type ${values.type}`);
  const store = await openStore(values.store);
  const images = await listCatalog(store);
  const docs: Record<string, unknown>[] = [];
  let failed = false;
  for (const name of positionals) {
    try {
      docs.push(inspectDocument(findImage(images, name)));
    } catch (err) {
      if (!(err instanceof KilnError)) throw err;
      io.stderr(`Error: ${err.message}\n`);
      failed = true;
    }
  }
  if (values.format) for (const doc of docs) io.stdout(`${renderTemplate(values.format, doc)}\n`);
  else io.stdout(`${JSON.stringify(docs, null, 4)}\n`);
  return failed ? 1 : 0;
}

// ---- kiln history --------------------------------------------------------------------------

const HISTORY_HELP = `Usage: kiln history [OPTIONS] IMAGE   (also: kiln image history)

Show the history of an image, as docker history does.

Options:
      --format STRING   A Go template ({{.ID}}, {{.CreatedSince}}, {{.CreatedAt}},
                        {{.CreatedBy}}, {{.Size}}, {{.Comment}}), "table ...", or json
  -H, --human           Human readable sizes and dates (default true; -H=false: bytes, RFC 3339)
      --no-trunc        Do not truncate the output
  -q, --quiet           Only show image IDs
      --store DIR       Kiln store

Example:
  kiln history --no-trunc app:1
`;

const HISTORY_HEADERS = { ID: 'IMAGE', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT', CreatedBy: 'CREATED BY', Size: 'SIZE', Comment: 'COMMENT' };

/** docker's stringutils.Ellipsis: at most `max` characters, the last one `…` when cut. */
function ellipsis(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}

export async function historyCommand(args: string[], io: CliIo): Promise<number> {
  if (helpRequested(args)) return void io.stdout(HISTORY_HELP), 0;
  // -H=false as docker writes it: parseArgs has no boolean values, so it is read here.
  const human = !args.some((a) => /^(-H|--human)=(false|0)$/.test(a));
  const { values, positionals } = parseArgs({
    args: args.filter((a) => !/^(-H|--human)=(true|false|1|0)$/.test(a)),
    allowPositionals: true,
    options: {
      format: { type: 'string' },
      human: { type: 'boolean', short: 'H' },
      'no-trunc': { type: 'boolean' },
      quiet: { type: 'boolean', short: 'q' },
      store: { type: 'string' },
    },
  });
  if (positionals.length !== 1) throw new UsageError('kiln history needs exactly one IMAGE');
  const store = await openStore(values.store);
  const image = findImage(await listCatalog(store), positionals[0]!);
  const history = image.config.history ?? [];
  const rows: Record<string, string>[] = [];
  let layer = 0;
  const now = Date.now();
  const sizes = history.map((h) => (h.empty_layer ? 0 : (image.layers[layer++]?.size ?? 0)));
  for (let i = history.length - 1; i >= 0; i--) {
    const h = history[i]!;
    const created = h.created ? Date.parse(h.created) : 0;
    // Only the image itself exists as an image: the steps below it show <missing>, as docker
    // shows them for images built with BuildKit or pulled.
    const id = i === history.length - 1 ? (values['no-trunc'] ? image.id : shortId(image.id)) : '<missing>';
    const createdBy = (h.created_by ?? '').replace(/\t/g, ' ');
    rows.push({
      ID: id,
      CreatedSince: human ? since(created, now) : new Date(created).toISOString().replace(/\.\d+Z$/, 'Z'),
      CreatedAt: new Date(created).toISOString().replace(/\.\d+Z$/, 'Z'),
      CreatedBy: values['no-trunc'] ? createdBy : ellipsis(createdBy, 45),
      Size: human ? humanSize(sizes[i]!) : String(sizes[i]),
      Comment: h.comment ?? '',
    });
  }
  const defaultTable = 'table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}';
  io.stdout(formatRows({ format: values.format, quiet: values.quiet, defaultTable, headers: HISTORY_HEADERS, rows }));
  return 0;
}

// ---- kiln tag ------------------------------------------------------------------------------

const TAG_HELP = `Usage: kiln tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]   (also: kiln image tag)

Give an image of the store another name.

Example:
  kiln tag app:1 registry.example.com/team/app:1.0.0
`;

export async function tagCommand(args: string[], io: CliIo): Promise<number> {
  if (helpRequested(args)) return void io.stdout(TAG_HELP), 0;
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { store: { type: 'string' } } });
  if (positionals.length !== 2) throw new UsageError('kiln tag needs SOURCE_IMAGE and TARGET_IMAGE');
  const target = parseReference(positionals[1]!);
  if (target.digest) throw new KilnError(`refusing to create a tag with a digest reference: ${positionals[1]}`);
  const store = await openStore(values.store);
  await store.withLease(async () => {
    const image = findImage(await listCatalog(store), positionals[0]!);
    await store.setRef(normalizedRef(positionals[1]!), image.digest);
  });
  return 0;
}

// ---- kiln rmi ------------------------------------------------------------------------------

const RMI_HELP = `Usage: kiln rmi [OPTIONS] IMAGE [IMAGE...]   (also: kiln image rm)

Remove images: a tag is untagged; the image goes with its last tag (or when named by ID), and
its blobs leave the disk unless another image or the build cache needs them.

Options:
  -f, --force       Remove an image named by ID with several tags, or one other images build on
      --store DIR   Kiln store

Example:
  kiln rmi app:1 3f2a9c1b4e5d
`;

/** Whether `child` is built on `parent` (its layers start with all of parent's). */
function buildsOn(child: CatalogImage, parent: CatalogImage): boolean {
  const p = parent.config.rootfs?.diff_ids ?? [];
  const c = child.config.rootfs?.diff_ids ?? [];
  return child.digest !== parent.digest && p.length > 0 && p.length < c.length && p.every((d, i) => c[i] === d);
}

export async function rmiCommand(args: string[], io: CliIo): Promise<number> {
  if (helpRequested(args)) return void io.stdout(RMI_HELP), 0;
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { force: { type: 'boolean', short: 'f' }, 'no-prune': { type: 'boolean' }, store: { type: 'string' } },
  });
  if (positionals.length === 0) throw new UsageError('kiln rmi needs at least one IMAGE');
  const store = await openStore(values.store);
  return removeEach(store, positionals, io, (name) => removeImage(store, name, !!values.force));
}

/**
 * rmi's and rm's loop, as docker's: each name removed in turn (what `remove` prints is printed),
 * an error printed and the rest still removed; then what nothing needs leaves the disk. Exit 1
 * when any failed.
 */
export async function removeEach(store: ContentStore, names: readonly string[], io: CliIo, remove: (name: string) => Promise<string>): Promise<number> {
  let failed = false;
  await store.withoutLeases(async () => {
    for (const name of names) {
      try {
        io.stdout(await remove(name));
      } catch (err) {
        if (!(err instanceof KilnError)) throw err;
        io.stderr(`Error: ${err.message}\n`);
        failed = true;
      }
    }
    await sweepBlobs(store);
  });
  return failed ? 1 : 0;
}

/** One rmi argument: untag, and delete the image when it has no tag left; the lines docker prints. */
async function removeImage(store: ContentStore, name: string, force: boolean): Promise<string> {
  const images = await listCatalog(store);
  const image = findImage(images, name);
  let byTag: string | undefined;
  try {
    const ref = normalizedRef(name);
    if (image.refs.includes(ref)) byTag = ref;
  } catch {
    byTag = undefined;
  }
  const lines: string[] = [];
  const untag = async (ref: string) => {
    await store.deleteRef(ref);
    lines.push(`Untagged: ${image.repoTags[image.refs.indexOf(ref)]}\n`);
  };
  if (byTag && image.refs.length > 1) {
    await untag(byTag);
    return lines.join('');
  }
  if (!byTag && image.refs.length > 1 && !force) {
    throw new KilnError(`conflict: unable to delete ${shortId(image.id)} (must be forced) - image is referenced in multiple repositories`);
  }
  const user = (await store.listContainers()).find((c) => c.imageDigest === image.digest);
  if (user && !force) {
    throw new KilnError(`conflict: unable to delete ${shortId(image.id)} (must be forced) - image is being used by stopped container ${user.id.slice(0, 12)} (kiln rm ${user.name})`);
  }
  const children = images.filter((other) => other.refs.length > 0 && buildsOn(other, image));
  if (children.length > 0 && !force) {
    throw new KilnError(
      `conflict: unable to delete ${shortId(image.id)} (must be forced) - image has dependent child images (${children.map((c) => c.repoTags[0]).join(', ')}); ` +
        'its layers stay while they need them',
    );
  }
  for (const ref of image.refs) await untag(ref);
  await store.removeImage(image.digest);
  lines.push(`Deleted: ${image.id}\n`);
  return lines.join('');
}

export { NoSuchImageError };
