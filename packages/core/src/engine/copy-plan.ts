// COPY and ADD with Docker's semantics: which files a source selects (wildcards, directory
// contents, symlinks followed at the top level and copied as links below it), which of them
// `--exclude` drops and `--parents` keeps with their path, where they land (trailing-slash rules,
// existing directories), who owns them (--chown) and with what mode (--chmod). The result is the
// list of layer entries plus the cache-key material for them.

import { posix } from 'node:path';
import { KilnError } from '../errors.js';
import { IgnoreMatcher } from '../context/dockerignore.js';
import type { ContextEntry } from '../context/walk.js';
import { hashFile } from '../context/walk.js';
import { globToRegExp, hasWildcard } from '../context/glob.js';
import type { LayerEntry } from '../layer/index.js';
import type { RootfsView } from './rootfs.js';
import type { Chmod } from './chmod.js';

export { parseChmod, type Chmod } from './chmod.js';

/** A tree files are copied from: the build context, or another stage's or image's rootfs. */
export interface SourceTree {
  kind: 'context' | 'image';
  /** For messages: "build context" or "stage build". */
  label: string;
  entries: ReadonlyMap<string, ContextEntry>;
  /** Content digest of a file entry (cached for the context). */
  digest(entry: ContextEntry): Promise<string>;
}

/** A tree with nothing in it: the source of a COPY that reads only heredocs or URLs. */
export const EMPTY_TREE: SourceTree = { kind: 'context', label: 'build context', entries: new Map(), digest: () => Promise.resolve('') };

export interface InlineSource {
  name: string;
  data: string;
}

/** A file ADD downloaded: copied like a context file named after the URL. */
export interface FetchedSource {
  name: string;
  entry: ContextEntry;
  tree: SourceTree;
}

export interface CopyRequest {
  instruction: 'COPY' | 'ADD';
  sources: string[];
  inline: InlineSource[];
  fetched?: FetchedSource[];
  /** Absolute destination inside the image (WORKDIR applied), trailing '/' kept. */
  dest: string;
  tree: SourceTree;
  view: RootfsView;
  owner?: { uid: number; gid: number };
  chmod?: Chmod;
  /**
   * `--exclude` patterns (.dockerignore syntax), matched against each path below a source
   * directory, relative to that directory (BuildKit's copy never matches the source itself).
   */
  exclude?: string[];
  /** `COPY --parents`: each source keeps its path (after a `/./` pivot, if any) under the destination. */
  parents?: boolean;
  /** ADD: turn an archive into its contents; returns the extracted tree, or undefined when it is none. */
  unpack?: (entry: ContextEntry) => Promise<SourceTree | undefined>;
  /** `ADD --unpack=true <url>`: downloaded archives are unpacked too (local ones are by default). */
  unpackFetched?: boolean;
}

export interface CopyPlan {
  entries: LayerEntry[];
}

interface Selected {
  entry: ContextEntry;
  tree: SourceTree;
  /** Name the item gets in a destination directory. */
  name: string;
}

/** Which paths below a source directory are copied (relative to it): --parents' pattern, --exclude's. */
interface TreeFilter {
  include?: PathPatterns;
  exclude?: PathPatterns;
}

export async function planCopy(req: CopyRequest): Promise<CopyPlan> {
  const dest = req.dest;
  const destWritten = posix.normalize(dest).replace(/^\/+/, '').replace(/\/+$/, '').replace(/^\.$/, '');
  const explicitDir = dest.endsWith('/') || dest.endsWith('/.') || destWritten === '';
  const fetched = req.fetched ?? [];
  const argCount = req.sources.length + req.inline.length + fetched.length;
  // --parents copies each source's parent directory into the destination: it is a directory.
  if (argCount > 1 && !explicitDir && !req.parents) {
    throw new KilnError(
      `When using ${req.instruction} with more than one source file, the destination must be a directory and end with a / (got "${dest}")`,
    );
  }
  const exclude = req.exclude?.length ? new PathPatterns(req.exclude, '--exclude') : undefined;
  const selected: (Selected & { include?: PathPatterns })[] = [...fetched];
  let wildcardMatches = 0;
  for (const source of req.sources) {
    const found = req.parents ? selectParents(req.tree, source, req.instruction) : selectSources(req.tree, source, req.instruction);
    if (!req.parents && hasWildcard(source)) wildcardMatches += found.length;
    selected.push(...found);
  }
  const destNode = destWritten === '' ? { type: 'dir' } : (await req.view.resolve(destWritten)).node;
  const destIsDir = explicitDir || argCount > 1 || wildcardMatches > 1 || destNode?.type === 'dir' || !!req.parents;
  // Entries go where the destination really is: a layer entry under a path that is a symlink in
  // the image would become a directory hiding that symlink once a runtime unpacks the layer.
  const destRel = await req.view.landingPath(destWritten, destIsDir);

  const out = new Map<string, LayerEntry>();
  const createdDirOwner = req.owner ?? { uid: 0, gid: 0 };

  /**
   * `keepOwnership`: an extracted ADD archive keeps its own owners and modes (Docker applies
   * neither --chown nor --chmod to it). Context files otherwise become 0:0; other stages' files
   * keep their owners; --chown overrides, and --chmod gives the mode (octal) or changes each
   * entry's own mode (symbolic).
   */
  async function emit(target: string, e: ContextEntry, tree: SourceTree, keepOwnership = false, linked?: Map<string, string>): Promise<void> {
    const owner = keepOwnership || !req.owner ? (tree.kind === 'context' ? { uid: 0, gid: 0 } : { uid: e.uid, gid: e.gid }) : req.owner;
    const mode = !keepOwnership && req.chmod !== undefined ? req.chmod.apply(e.mode, e.type === 'dir') : e.mode;
    const base = { path: target, mode, ...owner };
    if (e.type === 'dir') out.set(target, { ...base, type: 'dir' });
    else if (e.type === 'symlink') out.set(target, { ...base, mode: 0o777, type: 'symlink', linkTarget: e.linkTarget });
    else {
      const inode = linked && (e.nlink ?? 1) > 1 ? `${e.dev}:${e.ino}` : undefined;
      const first = inode ? linked!.get(inode) : undefined;
      if (first !== undefined) out.set(target, { ...base, type: 'hardlink', linkTarget: first });
      else {
        if (inode) linked!.set(inode, target);
        // A context file's digest is cached (the cache key needed it): with it, a later build
        // of this step can copy the file's bytes from this layer instead of reading it again.
        const digest = tree.kind === 'context' && tree !== EMPTY_TREE ? await tree.digest(e) : undefined;
        out.set(target, { ...base, type: 'file', size: e.size, content: digest ? { path: e.absPath, digest } : { path: e.absPath } });
      }
    }
  }

  /**
   * A directory source: its contents go into the target, which is created 0755 if missing. Files
   * hard-linked to each other inside it stay hard-linked (separate sources do not, as in Docker).
   * With a filter, only the paths it lets through are copied, and the directories above them
   * (with their own metadata), as BuildKit creates a parent directory once something below it
   * is copied.
   */
  async function copyTree(item: Selected, targetRoot: string, filter: TreeFilter, keepOwnership = false): Promise<void> {
    const rootExists = targetRoot === '' || (await req.view.resolve(targetRoot)).node?.type === 'dir';
    if (!rootExists && !out.has(targetRoot)) out.set(targetRoot, { path: targetRoot, type: 'dir', mode: 0o755, ...createdDirOwner });
    const prefix = item.entry.path === '' ? '' : `${item.entry.path}/`;
    const below: [string, ContextEntry][] = [];
    for (const [path, child] of item.tree.entries) {
      if (path.startsWith(prefix) && path !== item.entry.path) below.push([path.slice(prefix.length), child]);
    }
    let copied: Set<string> | undefined;
    if (filter.include || filter.exclude) {
      copied = new Set();
      for (const [rel] of below) {
        if (filter.include && !filter.include.matches(rel)) continue;
        if (filter.exclude?.matches(rel)) continue;
        copied.add(rel);
        for (let slash = rel.lastIndexOf('/'); slash > 0; slash = rel.lastIndexOf('/', slash - 1)) copied.add(rel.slice(0, slash));
      }
    }
    const linked = new Map<string, string>();
    for (const [rel, child] of below) {
      if (copied && !copied.has(rel)) continue;
      await emit(join(targetRoot, rel), child, item.tree, keepOwnership, linked);
    }
  }

  for (const item of selected) {
    if (item.entry.type === 'dir') {
      await copyTree(item, destRel, { include: item.include, exclude });
      continue;
    }
    const isFetched = fetched.includes(item as FetchedSource);
    const unpacked = req.unpack && (isFetched ? req.unpackFetched : item.tree.kind === 'context') ? await req.unpack(item.entry) : undefined;
    if (unpacked) {
      await copyTree({ entry: unpacked.entries.get('')!, tree: unpacked, name: '' }, destRel, {}, true);
      continue;
    }
    await emit(destIsDir ? join(destRel, item.name) : destRel, item.entry, item.tree);
  }
  for (const source of req.inline) {
    const data = Buffer.from(source.data);
    const { uid, gid } = req.owner ?? { uid: 0, gid: 0 };
    const target = destIsDir ? join(destRel, source.name) : destRel;
    out.set(target, {
      path: target, type: 'file', mode: req.chmod ? req.chmod.apply(0o644, false) : 0o644, uid, gid, size: data.length,
      content: { data },
    });
  }
  if (selected.length === 0 && req.inline.length === 0) {
    // --parents with wildcards that match nothing copies nothing (the destination is still made).
    if (!req.parents) throw new KilnError(`${req.instruction} failed: no source files were specified`);
    if (destRel !== '' && (await req.view.resolve(destRel)).node?.type !== 'dir') {
      out.set(destRel, { path: destRel, type: 'dir', mode: 0o755, ...createdDirOwner });
    }
  }
  await addAncestors(out, req.view, createdDirOwner);

  return { entries: [...out.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)) };
}

/**
 * .dockerignore-style patterns (moby/patternmatcher's rules, `**` and `!` included) for
 * `--exclude` and `--parents`: a path matches when a pattern matches it or one of its parent
 * directories, the last matching pattern deciding.
 */
class PathPatterns {
  private readonly matcher: IgnoreMatcher;

  constructor(
    patterns: string[],
    private readonly what: string,
  ) {
    try {
      this.matcher = new IgnoreMatcher(patterns);
    } catch (err) {
      throw this.error(err);
    }
  }

  matches(path: string): boolean {
    try {
      return this.matcher.matchesWithParent(path, false);
    } catch (err) {
      throw this.error(err);
    }
  }

  private error(err: unknown): KilnError {
    const message = (err as Error).message.replace(/^invalid \.dockerignore pattern/, `invalid ${this.what} pattern`);
    return new KilnError(message);
  }
}

function join(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}

/**
 * Give every entry all its ancestor directories, as Docker's and BuildKit's layers do: a runtime
 * (overlay2, containerd) unpacks each layer into a directory of its own and creates a missing
 * parent there as root with the time of the unpack, and in the union the upper layer's directory
 * wins. So a directory the image has is carried with the owner, mode and mtime it has at this
 * step; one it lacks is created 0755, owned like the step (`owner`). A symlink to a directory is
 * left alone (replacing it with a directory would change the image).
 */
export async function addAncestors(
  out: Map<string, LayerEntry>,
  view: RootfsView,
  owner: { uid: number; gid: number },
): Promise<void> {
  const index = await view.index();
  for (const path of [...out.keys()]) {
    for (let slash = path.indexOf('/'); slash >= 0; slash = path.indexOf('/', slash + 1)) {
      const dir = path.slice(0, slash);
      if (out.has(dir)) continue;
      const node = index.get(dir);
      if (node?.type === 'dir') {
        out.set(dir, { path: dir, type: 'dir', mode: node.mode, uid: node.uid, gid: node.gid, mtime: node.mtime });
        continue;
      }
      if (node && (await view.resolve(dir)).node?.type === 'dir') continue;
      out.set(dir, { path: dir, type: 'dir', mode: 0o755, ...owner });
    }
  }
}

/**
 * What a COPY/ADD reads, without the image it writes into: every entry the sources select (with
 * everything below a selected directory) as one line each, content digests included. With the
 * parent step's cache key and the instruction text, it decides the layer (the rest, where things
 * land and who owns the directories made, follows from the parent image), so a cache hit needs
 * neither the image's filesystem index nor the copy plan.
 */
export async function sourceFingerprint(tree: SourceTree, sources: readonly string[], instruction: string, parents = false): Promise<string[]> {
  const lines: string[] = [];
  // Context files are written 0:0 whoever owns them here; other trees keep their owners.
  const owners = tree.kind !== 'context';
  const line = async (e: ContextEntry, linkedTo = '') =>
    [e.path, e.type, e.mode.toString(8), owners ? `${e.uid}:${e.gid}` : '', e.linkTarget ?? linkedTo, e.type === 'file' && !linkedTo ? await tree.digest(e) : ''].join('\0');
  for (const source of sources) {
    const found = parents ? selectParents(tree, source, instruction) : selectSources(tree, source, instruction);
    for (const item of found) {
      lines.push(`${source}\0${await line(item.entry)}`);
      if (item.entry.type !== 'dir') continue;
      // Files hard-linked to each other inside a directory source stay linked (copyTree): which
      // ones are decides the layer as much as their content.
      const linked = new Map<string, string>();
      const prefix = item.entry.path === '' ? '' : `${item.entry.path}/`;
      for (const [path, e] of item.tree.entries) {
        if (path === item.entry.path || !path.startsWith(prefix)) continue;
        const inode = e.type === 'file' && (e.nlink ?? 1) > 1 ? `${e.dev}:${e.ino}` : undefined;
        const first = inode === undefined ? undefined : linked.get(inode);
        if (inode !== undefined && first === undefined) linked.set(inode, path);
        lines.push(await line(e, first === undefined ? '' : `link:${first}`));
      }
    }
  }
  return lines;
}

/** The entries one source argument selects, with top-level symlinks followed inside the tree. */
function selectSources(tree: SourceTree, source: string, instruction: string): Selected[] {
  const cleaned = cleanSource(source, tree, instruction);
  if (hasWildcard(cleaned)) {
    const pattern = globPattern(cleaned, source, instruction);
    const matches: Selected[] = [];
    for (const [path] of tree.entries) {
      if (path !== '' && pattern.test(path)) matches.push(follow(tree, path, source, instruction));
    }
    if (matches.length === 0) {
      throw new KilnError(`${instruction} failed: no source files were specified: "${source}" matches nothing in the ${tree.label}`);
    }
    return matches;
  }
  return [follow(tree, cleaned, source, instruction)];
}

/**
 * `COPY --parents src`: BuildKit copies the contents of the source's parent directory, keeping
 * what the rest of the path selects. `a/b/./c/d` keeps `c/d` (the `/./` is the pivot); without a
 * pivot the parent is the root of the tree, so the whole path is kept. The pattern may hold
 * wildcards and `**`; a parent with wildcards is each directory it matches. A path without
 * wildcards must exist; wildcards that match nothing copy nothing.
 */
function selectParents(tree: SourceTree, source: string, instruction: string): (Selected & { include?: PathPatterns })[] {
  const pivot = source.indexOf('/./');
  const parentWritten = pivot < 0 ? '/' : source.slice(0, pivot);
  const pattern = posix.normalize(`/${pivot < 0 ? source : source.slice(pivot + 3)}`).replace(/^\/+/, '').replace(/\/+$/, '');
  const parent = cleanSource(parentWritten, tree, instruction);
  if (!hasWildcard(parent) && !hasWildcard(pattern)) follow(tree, join(parent, pattern), source, instruction);
  const include = pattern === '' ? undefined : new PathPatterns([pattern], '--parents');
  let parents: Selected[];
  if (hasWildcard(parent)) {
    const matcher = globPattern(parent, source, instruction);
    parents = [...tree.entries.keys()].filter((p) => p !== '' && matcher.test(p)).map((p) => follow(tree, p, source, instruction));
  } else {
    parents = [follow(tree, parent, source, instruction)];
  }
  return parents.map((p) => ({ ...p, include }));
}

function globPattern(cleaned: string, source: string, instruction: string): RegExp {
  try {
    return globToRegExp(cleaned);
  } catch (err) {
    throw new KilnError(`${instruction} source "${source}": ${(err as Error).message}`);
  }
}

function cleanSource(source: string, tree: SourceTree, instruction: string): string {
  const normalized = posix.normalize(source);
  if (normalized === '..' || normalized.startsWith('../')) {
    throw new KilnError(`${instruction} failed: forbidden path outside the ${tree.label}: "${source}"`);
  }
  return normalized.replace(/^\/+/, '').replace(/\/+$/, '').replace(/^\.$/, '');
}

/** Look a path up, following symlinks (in any component) without leaving the tree. */
function follow(tree: SourceTree, path: string, source: string, instruction: string): Selected {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  const done: string[] = [];
  let hops = 0;
  while (parts.length > 0) {
    const part = parts.shift()!;
    if (part === '..') {
      if (done.length === 0) {
        throw new KilnError(`${instruction} failed: "${source}" leads outside the ${tree.label} through a symlink`);
      }
      done.pop();
      continue;
    }
    const candidate = [...done, part].join('/');
    const entry = tree.entries.get(candidate);
    if (!entry) {
      const viaLink = hops > 0 ? ` (it is reached through a symlink that points to "${candidate}", outside or missing from the ${tree.label})` : '';
      throw new KilnError(
        `${instruction} failed: file not found in ${tree.label}${tree.kind === 'context' ? ' or excluded by .dockerignore' : ''}: "${source}"${viaLink}`,
      );
    }
    if (entry.type === 'symlink') {
      if (++hops > 40) throw new KilnError(`${instruction} failed: too many levels of symbolic links in "${source}"`);
      const target = entry.linkTarget ?? '';
      if (target.startsWith('/')) done.length = 0;
      parts.unshift(...target.split('/').filter((p) => p !== '' && p !== '.'));
      continue;
    }
    done.push(part);
  }
  const resolved = done.join('/');
  const entry = tree.entries.get(resolved);
  if (!entry) throw new KilnError(`${instruction} failed: file not found in ${tree.label}: "${source}"`);
  return { entry, tree, name: posix.basename(path) || posix.basename(resolved) };
}

/** A tree over a directory on disk (an unpacked archive or rootfs), walked without .dockerignore. */
export function treeFromEntries(kind: SourceTree['kind'], label: string, list: ContextEntry[], root: ContextEntry): SourceTree {
  const entries = new Map<string, ContextEntry>([['', root], ...list.map((e) => [e.path, e] as const)]);
  return { kind, label, entries, digest: (e) => hashFile(e.absPath) };
}

/**
 * The entry a `RUN --mount` source names in a tree (symlinks on the way followed inside the
 * tree), and every entry below it, itself first.
 */
export function mountSourceEntries(tree: SourceTree, source: string): ContextEntry[] {
  const what = 'RUN --mount';
  const selected = follow(tree, cleanSource(source || '/', tree, what), source || '/', what);
  const top = selected.entry;
  if (top.type !== 'dir') return [top];
  const prefix = top.path === '' ? '' : `${top.path}/`;
  return [top, ...[...selected.tree.entries.values()].filter((e) => e.path !== top.path && e.path.startsWith(prefix))];
}
