// `RUN --mount`: what each mount adds to the step's cache key, and the host side of each mount
// while the command runs, as BuildKit's dockerfile2llb (convert_runmount.go, convert_secrets.go,
// convert_ssh.go) and its mount manager define them:
//   bind    a file or directory of the context (after .dockerignore) or of a stage or image;
//           read-only unless rw, and then what the command writes there is thrown away
//   cache   a directory in the store that outlives builds (shared, private or locked)
//   tmpfs   memory, gone with the command
//   secret  a value from `--secret`, as a file (default /run/secrets/ID, 0400) or a variable
//   ssh     an SSH agent from `--ssh`, as a socket (default /run/buildkit/ssh_agent.N)
// Bind and cache contents never reach the layer: the sandbox leaves mount targets out of it.

import { constants as fsc } from 'node:fs';
import { chmod, chown, copyFile, link, mkdir, readlink, rm, stat, symlink } from 'node:fs/promises';
import { posix, join, dirname } from 'node:path';
import { KilnError } from '../errors.js';
import { sha256Hex } from '../oci/digest.js';
import { parseRunMount, RunMountError, type RunMount } from '../dockerfile/run-mount.js';
import type { BindMount } from '../run/oci-spec.js';
import type { ForwardedSocket, MemoryFile } from '../run/memory-area.js';
import { mountSourceEntries, sourceFingerprint, type SourceTree } from './copy-plan.js';
import type { ContextEntry } from '../context/walk.js';
import type { StepServices } from './steps/step.js';

/** BuildKit's limit on one secret (session/secrets/secretsprovider). */
export const MAX_SECRET_SIZE = 500 * 1024;

/** What the sandbox gets for the step's mounts. */
export interface OpenMounts {
  binds: BindMount[];
  tmpfs: { destination: string; size: number }[];
  memoryFiles: MemoryFile[];
  sockets: ForwardedSocket[];
  /** Variables for the command that hold secrets (never in the key or on disk). */
  secretEnv: string[];
  /** Variables that follow from the mounts (SSH_AUTH_SOCK). */
  env: string[];
  /** New cache directories made without root, with the owner and mode the RUN machinery must give them. */
  ownership: { path: string; uid: number; gid: number; mode: number }[];
  /** Temporary copies the command may write to, to remove after the step (as root, when it ran as root). */
  removeAfter: string[];
}

export interface StepMounts {
  /** The mounts' part of the cache key: their definitions and the content of bind sources. */
  keyParts: string[];
  /** Secret values, for masking the command's output. */
  secretValues: Buffer[];
  /** Opens the mounts around `run` (cache locks held, temporary copies removed after). */
  use<T>(run: (mounts: OpenMounts) => Promise<T>): Promise<T>;
}

type Build = Pick<StepServices, 'store' | 'options' | 'context' | 'treeFrom' | 'sourceKey'>;

interface Resolved {
  mount: RunMount;
  /** Absolute target in the container. */
  target: string;
  /** secret/ssh: the id used. */
  id: string;
}

/** Parse and check the step's mounts; `expand` expands ARG/ENV in their values; `cwd` anchors relative targets. */
export async function stepMounts(values: readonly string[], expand: (word: string) => string, cwd: string, build: Build): Promise<StepMounts> {
  const resolved: Resolved[] = [];
  let sshIndex = 0;
  for (const value of values) {
    let mount: RunMount;
    try {
      mount = parseRunMount(value, expand);
    } catch (err) {
      if (err instanceof RunMountError) throw new KilnError(`--mount=${value}: ${err.message}`);
      throw err;
    }
    resolved.push(resolveTarget(mount, cwd, sshIndex));
    if (mount.type === 'ssh') sshIndex++;
  }

  const keyParts: string[] = [];
  const secretValues: Buffer[] = [];
  for (const r of resolved) {
    const m = r.mount;
    const common = [m.type, r.target, m.readonly ? 'ro' : 'rw', r.id, m.sharing ?? '', m.mode ?? '', m.uid ?? '', m.gid ?? '', m.size, m.required, m.env ?? ''];
    keyParts.push(`mount\0${common.join('\0')}`);
    if (m.type === 'bind' || (m.type === 'cache' && m.from !== '')) {
      // A bind's content decides the step as a COPY's does; a cache's seed is keyed by its source.
      if (m.from === '') keyParts.push(...(await sourceFingerprint(await build.context(), [m.source || '/'], 'RUN --mount')));
      else keyParts.push(`from\0${await build.sourceKey(m.from)}\0${m.source}`);
    }
    if (m.type === 'secret') {
      const value = build.options.secrets?.[r.id];
      if (value !== undefined) secretValues.push(Buffer.from(value));
      else if (m.required) throw new KilnError(`secret ${r.id}: not found (pass it with --secret id=${r.id},src=FILE or id=${r.id},env=VARIABLE)`);
    }
    if (m.type === 'ssh' && m.required && !build.options.ssh?.[r.id]) {
      throw new KilnError(`no SSH agent socket was given for id "${r.id}" (pass --ssh ${r.id}=SOCKET, or --ssh default with SSH_AUTH_SOCK set)`);
    }
  }

  return {
    keyParts,
    secretValues,
    use: (run) => openMounts(resolved, build, run),
  };
}

function resolveTarget(m: RunMount, cwd: string, sshIndex: number): Resolved {
  if (m.type === 'secret') {
    const id = m.source || m.id || posix.basename(m.target);
    // With env= and no target, the secret is a variable only.
    const target = m.target !== '' ? absolute(m.target, cwd) : m.env === undefined ? `/run/secrets/${posix.basename(id)}` : '';
    return { mount: m, target, id };
  }
  if (m.type === 'ssh') {
    return { mount: m, target: m.target !== '' ? absolute(m.target, cwd) : `/run/buildkit/ssh_agent.${sshIndex}`, id: m.id || 'default' };
  }
  if (m.target === '') throw new KilnError(`--mount type=${m.type}: a target is required (target=PATH)`);
  const target = absolute(m.target, cwd);
  if (target === '/') throw new KilnError(`invalid mount target "${target}"`);
  // BuildKit: a cache's id defaults to its target as written, cleaned.
  return { mount: m, target, id: m.type === 'cache' ? m.id || posix.normalize(m.target) : m.id };
}

function absolute(target: string, cwd: string): string {
  return posix.normalize(target.startsWith('/') ? target : posix.join('/', cwd, target)).replace(/(.)\/+$/, '$1');
}

/** Cache mounts used with sharing=private in this process: a second user gets a fresh one. */
const privateInUse = new Set<string>();

async function openMounts<T>(resolved: readonly Resolved[], build: Build, run: (mounts: OpenMounts) => Promise<T>): Promise<T> {
  const open: OpenMounts = { binds: [], tmpfs: [], memoryFiles: [], sockets: [], secretEnv: [], env: [], ownership: [], removeAfter: [] };
  const cleanups: (() => Promise<void>)[] = [];
  const locked: string[] = [];
  // A copy the command may write to: removed after the step, by root when the step ran as root
  // (what it wrote there is root's), and here too.
  const throwaway = (dir: string) => {
    open.removeAfter.push(dir);
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
  };
  try {
    for (const r of resolved) {
      const m = r.mount;
      switch (m.type) {
        case 'bind': {
          const tree = m.from === '' ? await build.context() : await build.treeFrom(m.from);
          const entries = mountSourceEntries(tree, m.source);
          let source: string;
          if (tree.kind === 'image' && m.readonly) {
            source = entries[0]!.absPath; // a stage's or image's files, unpacked for this build alone
          } else {
            // Context files through .dockerignore (and anything writable) are a copy of their own.
            const dir = await build.store.makeTempDir('bind-');
            throwaway(dir);
            source = await copyEntries(entries, join(dir, 'src'), m.readonly);
          }
          open.binds.push({ source, destination: r.target, readonly: m.readonly });
          break;
        }
        case 'cache': {
          const init = (dir: string) => initCache(dir, m, build);
          const cacheId = await cacheIdentity(r, build);
          let dir = await build.store.cacheMount(cacheId, init);
          open.ownership.push(...(await pendingOwnership(dir, m)));
          if (m.sharing === 'locked') locked.push(cacheId);
          if (m.sharing === 'private') {
            if (privateInUse.has(cacheId)) {
              const temp = await build.store.makeTempDir('cache-private-');
              throwaway(temp);
              dir = join(temp, 'dir');
              await init(dir);
            } else {
              privateInUse.add(cacheId);
              cleanups.push(async () => void privateInUse.delete(cacheId));
            }
          }
          open.binds.push({ source: dir, destination: r.target, readonly: m.readonly });
          break;
        }
        case 'tmpfs':
          open.tmpfs.push({ destination: r.target, size: m.size });
          break;
        case 'secret': {
          const value = build.options.secrets?.[r.id];
          if (value === undefined) break; // optional and not given: the step runs without it
          const data = Buffer.from(value);
          if (m.env !== undefined) open.secretEnv.push(`${m.env}=${data.toString('utf8')}`);
          if (r.target !== '') open.memoryFiles.push({ destination: r.target, data, uid: m.uid ?? 0, gid: m.gid ?? 0, mode: m.mode ?? 0o400 });
          break;
        }
        case 'ssh': {
          const socket = build.options.ssh?.[r.id];
          if (socket === undefined) break;
          open.sockets.push({ destination: r.target, target: socket, uid: m.uid ?? 0, gid: m.gid ?? 0, mode: m.mode ?? 0o600 });
          break;
        }
      }
    }
    // BuildKit: SSH_AUTH_SOCK names the first agent socket, unless the step's environment sets it.
    if (open.sockets.length > 0) open.env.push(`SSH_AUTH_SOCK=${open.sockets[0]!.destination}`);
    // One order for every step (no two steps wait on each other), and Ctrl-C ends the wait.
    const lockNames = [...new Set(locked.map((id) => `cache-mount-use-${sha256Hex(id)}`))].sort();
    const withLocks = lockNames.reduceRight<() => Promise<T>>(
      (inner, name) => () => build.store.withLock(name, inner, { signal: build.options.signal }),
      () => run(open),
    );
    return await withLocks();
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  }
}

/**
 * Which cache directory a cache mount uses: its id, and (as BuildKit keys a cache by its id and
 * its base) what it starts from when that is not an empty root-owned directory.
 */
async function cacheIdentity(r: Resolved, build: Build): Promise<string> {
  const m = r.mount;
  if (m.from === '' && m.source === '' && m.uid === undefined && m.gid === undefined && m.mode === undefined) return r.id;
  const from = m.from === '' ? '' : await build.sourceKey(m.from);
  return [r.id, 'base', m.uid ?? 0, m.gid ?? 0, (m.mode ?? 0o755).toString(8), from, m.source].join('\0');
}

/**
 * A new cache directory at `dir` (which may exist, empty): the `from` source's content, or an
 * empty directory owned and moded as the mount says (without root, the RUN machinery does that:
 * see `pendingOwnership`).
 */
async function initCache(dir: string, m: RunMount, build: Build): Promise<void> {
  if (m.from !== '' || m.source !== '') {
    const tree: SourceTree = m.from === '' ? emptyTreeError(m) : await build.treeFrom(m.from);
    await rm(dir, { recursive: true, force: true });
    await copyEntries(mountSourceEntries(tree, m.source), dir, false);
    return;
  }
  await mkdir(dir, { recursive: true, mode: 0o755 });
  if (!isRoot()) return;
  await chown(dir, m.uid ?? 0, m.gid ?? 0);
  await chmod(dir, m.mode ?? 0o755);
}

/**
 * Without root, a new empty cache directory is this user's until the RUN machinery (root) gives
 * it the owner and mode the mount asks for; asked again on every use until that happened, so a
 * step that failed before it does not leave the cache with the wrong owner.
 */
async function pendingOwnership(dir: string, m: RunMount): Promise<OpenMounts['ownership']> {
  if (isRoot() || m.from !== '' || m.source !== '') return [];
  const st = await stat(dir);
  const wanted = { uid: m.uid ?? 0, gid: m.gid ?? 0, mode: m.mode ?? 0o755 };
  const done = st.uid === wanted.uid && st.gid === wanted.gid && (st.mode & 0o7777) === wanted.mode;
  return done || st.uid !== process.getuid?.() ? [] : [{ path: dir, ...wanted }];
}

const isRoot = () => process.getuid?.() === 0;

function emptyTreeError(m: RunMount): never {
  throw new KilnError(`--mount type=cache,source=${m.source}: a cache's source needs from=STAGE (without from, a cache starts empty)`);
}

/**
 * A copy of `entries` (the first is the top) at `dest`: directories made, files hard-linked
 * when `linkFiles` and the filesystem allows (a read-only mount then protects them), otherwise
 * copied; symlinks as they are. Returns `dest`.
 */
async function copyEntries(entries: readonly ContextEntry[], dest: string, linkFiles: boolean): Promise<string> {
  const top = entries[0]!;
  const prefix = top.path === '' ? '' : `${top.path}/`;
  const place = (e: ContextEntry) => (e === top ? dest : join(dest, e.path.slice(prefix.length)));
  const owned: ContextEntry[] = [];
  for (const e of entries) {
    const to = place(e);
    if (e === top) await mkdir(dirname(to), { recursive: true });
    if (e.type === 'dir') {
      await mkdir(to, { mode: 0o700 });
      owned.push(e);
    } else if (e.type === 'symlink') {
      await symlink(e.linkTarget ?? (await readlink(e.absPath)), to);
    } else if (!linkFiles || !(await link(e.absPath, to).then(() => true, () => false))) {
      // (a hard link keeps the file's own owner and mode; a copy gets them below)
      await copyFile(e.absPath, to, fsc.COPYFILE_FICLONE);
      owned.push(e);
    }
  }
  // Owners and modes last, deepest first, so a read-only directory is filled before it is closed.
  for (const e of owned.reverse()) {
    const to = place(e);
    // Without root the copy stays this user's (its modes are kept).
    if (isRoot()) await chown(to, e.uid, e.gid);
    await chmod(to, e.mode & 0o7777);
  }
  return dest;
}
