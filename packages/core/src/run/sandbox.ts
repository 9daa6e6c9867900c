// The RUN sandbox: an image's layers as a read-only overlay with a fresh upper directory, one
// process run in it by the OCI runtime with Docker's isolation, and what the process changed,
// read back from the upper directory as layer entries. Every mount, container and directory it
// makes is gone when it returns (or, after a kill -9, when the next sandbox starts).

import { constants as fsConstants } from 'node:fs';
import { chown, lstat, mkdir, open, readdir, rm, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename, join } from 'node:path';
import { KilnError } from '../errors.js';
import type { LayerRecord } from '../contracts/blobs.js';
import { extractLayer, parentPath, type LayerEntry } from '../layer/index.js';
import { layerSourceOf, unpackLowers, type LowerStore } from './lowers.js';
import { diffOverlayUpper, type LowerEntry } from '../layer/overlay-diff.js';
import { fileCapabilities } from './capabilities.js';
import { openMemoryArea, type ForwardedSocket, type MemoryArea, type MemoryFile } from './memory-area.js';
import { hostsFile, resolvConf, SANDBOX_HOSTNAME } from './network-files.js';
import { boundingCapabilities, hostDevices } from './privileged.js';
import { ociSpec, type BindMount } from './oci-spec.js';
import { mountOverlay, mountsBelow, unmount } from './overlay.js';
import { findRunc, Runc, RUNC_STATE_DIR } from './runc.js';
import type { Attached, ContainerRuntime } from './runtime.js';
import { resolveProcessUser } from './user.js';
import { idMapping, isMapped, requireMapped } from './user-namespace.js';

export type SandboxStore = LowerStore;

export interface SandboxRequest {
  /** The image's layers, bottom first. */
  layers: readonly LayerRecord[];
  /** The image's filesystem as one index (relative paths), for the diff and for creating the cwd. */
  lower: ReadonlyMap<string, LowerEntry>;
  /** Resolves a path inside the image through its symlinks (relative in, relative out). */
  resolvePath: (path: string) => Promise<string>;
  args: string[];
  env: string[];
  /** Absolute; created (0755, owned by the user) when the image lacks it, as BuildKit does. */
  cwd: string;
  /** USER as written in the image config ('' is root). */
  user: string;
  network: 'host' | 'none';
  /** Every capability, the host's devices, no masked paths (`RUN --security=insecure`). */
  privileged?: boolean;
  /** Host files or directories to mount (after resolv.conf and hosts). */
  binds?: BindMount[];
  /** tmpfs mounts (`RUN --mount=type=tmpfs`); size in bytes, 0 for the default. */
  tmpfs?: { destination: string; size: number }[];
  /** Secret files: kept in memory only (see memory-area.ts), bound read-only. */
  memoryFiles?: MemoryFile[];
  /** SSH agent sockets forwarded into the sandbox. */
  sockets?: ForwardedSocket[];
  /** Environment entries holding secrets: the bundle's config.json then stays in memory too. */
  secretEnv?: string[];
  /** `kiln run -i`/`-t`: the caller's stdin (and terminal) instead of captured output. */
  attached?: Attached;
  /** Read what the process changed as layer entries: never, when it exits 0 (RUN), or always (a kept `kiln run`). */
  collectChanges: 'never' | 'on-success' | 'always';
  onOutput?: (stream: 'stdout' | 'stderr', chunk: Buffer) => void;
  /** Something the user should know (said once: overlayfs unavailable). */
  onWarning?: (message: string) => void;
  signal?: AbortSignal;
}

export interface SandboxResult {
  exitCode: number;
  /** What changed, as entries of one layer (files point into the sandbox: write them before dispose). */
  changes: LayerEntry[];
  /** Remove the sandbox's directories. */
  dispose(): Promise<void>;
}

/** Paths runc creates as mount points when the image lacks them; left out of the layer when still empty. */
const MOUNT_STUBS = ['etc/resolv.conf', 'etc/hosts'];

let runtime: ContainerRuntime | undefined;
let warnedNoGetcap = false;
const cleaned = new WeakSet<object>();

/** RUN runs on Linux only: elsewhere, one error that says where to build instead. */
export function requireLinux(platform: NodeJS.Platform = process.platform): void {
  if (platform !== 'linux') {
    throw new KilnError(
      `RUN needs Linux (it runs the command with runc over overlayfs), and this is ${platform}: build this image on Linux (CI, a Linux VM or WSL 2); images without RUN build here as they are`,
    );
  }
}

export function requireRunPrivileges(): void {
  requireLinux();
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new KilnError(
      'RUN needs root (it mounts an overlay and starts runc): run kiln as root, e.g. `sudo kiln build ...`; builds without RUN need no root',
    );
  }
}

/** Unmount and remove what killed Kiln processes left: their mounts, containers and directories. */
async function cleanStale(store: SandboxStore, rt: ContainerRuntime): Promise<void> {
  if (cleaned.has(store)) return;
  cleaned.add(store);
  const names = await readdir(store.sandboxesDir).catch(() => [] as string[]);
  await rt.cleanStale((id) => store.isStaleSandbox(id.replace(/^kiln-/, 's-')));
  for (const name of names.filter((n) => store.isStaleSandbox(n))) {
    const dir = join(store.sandboxesDir, name);
    for (const m of await mountsBelow(dir)) await unmount(m).catch(() => undefined);
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** mkdir -p of the cwd inside the merged rootfs, through the image's own symlinks, owned by the user. */
async function createCwd(rootfs: string, request: SandboxRequest, uid: number, gid: number): Promise<void> {
  const real = await request.resolvePath(request.cwd.replace(/^\/+/, ''));
  if (real === '') return;
  let path = '';
  for (const part of real.split('/')) {
    path = path ? `${path}/${part}` : part;
    const host = join(rootfs, path);
    const st = await lstat(host).catch(() => undefined);
    if (st?.isDirectory()) continue;
    if (st) throw new KilnError(`the working directory ${request.cwd} is not a directory in the image (/${path} is not)`);
    await mkdir(host, { mode: 0o755 });
    await chown(host, uid, gid);
  }
}

/**
 * How many sandboxes run at once in this process: independent stages build in parallel, and
 * their RUNs share the machine's cores (KILN_RUN_PARALLELISM overrides).
 */
const parallelism = Math.max(1, Number(process.env.KILN_RUN_PARALLELISM) || availableParallelism());
let running = 0;
const waiting: (() => void)[] = [];

/** Run `fn` when a RUN slot is free (the sandbox here, or a step through the sudo helper). */
export async function withRunSlot<T>(fn: () => Promise<T>): Promise<T> {
  if (running >= parallelism) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await fn();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

export function runInSandbox(store: SandboxStore, request: SandboxRequest): Promise<SandboxResult> {
  return withRunSlot(() => runNow(store, request));
}

async function runNow(store: SandboxStore, request: SandboxRequest): Promise<SandboxResult> {
  requireRunPrivileges();
  const ids = idMapping();
  // Rootless, runc keeps its state in the store (the user owns nothing under /run).
  runtime ??= new Runc(findRunc(), ids.inUserNamespace ? store.rootlessRuntimeDir : RUNC_STATE_DIR);
  const rt = runtime;
  await cleanStale(store, rt);
  if (request.signal?.aborted) throw new KilnError('build interrupted');

  const dir = await store.makeSandboxDir();
  const rootfs = join(dir, 'rootfs');
  let mounted = false;
  let memory: MemoryArea | undefined;
  const dispose = () => rm(dir, { recursive: true, force: true });
  try {
    await mkdir(rootfs);
    const layout = await prepareRootfs(store, request, dir, rootfs);
    mounted = layout.kind === 'overlay';

    const stubs = new Set<string>();
    const destinations = [
      ...(request.binds ?? []),
      ...(request.tmpfs ?? []),
      ...(request.memoryFiles ?? []),
      ...(request.sockets ?? []),
    ].map((m) => m.destination.replace(/^\/+/, ''));
    const targets = [...MOUNT_STUBS, ...destinations];
    // runc makes a missing mount target where the image's symlinks lead (resolv.conf is often one).
    for (const target of targets) {
      const real = await request.resolvePath(target);
      for (let p = real; p !== ''; p = parentPath(p)) if (!request.lower.has(p)) stubs.add(p);
    }
    const user = await resolveProcessUser(request.user, (p) => readInRootfs(rootfs, request, p));
    requireMapped(ids, user, `USER ${request.user || 'root'}`);
    await createCwd(rootfs, request, user.uid, user.gid);
    await writeFile(join(dir, 'resolv.conf'), await resolvConf(request.network));
    await writeFile(join(dir, 'hosts'), hostsFile());
    const secretive = !!(request.memoryFiles?.length || request.sockets?.length || request.secretEnv?.length);
    memory = secretive ? await openMemoryArea(join(dir, 'memory'), request.memoryFiles ?? [], request.sockets ?? []) : undefined;
    const spec = ociSpec({
      process: { args: request.args, env: [...request.env, ...(request.secretEnv ?? [])], cwd: request.cwd, user, terminal: !!request.attached?.tty },
      hostname: SANDBOX_HOSTNAME,
      network: request.network,
      ...(request.privileged ? { privileged: { devices: await hostDevices(), capabilities: await boundingCapabilities() } } : {}),
      rootfs,
      binds: [
        { source: join(dir, 'resolv.conf'), destination: '/etc/resolv.conf', readonly: true },
        { source: join(dir, 'hosts'), destination: '/etc/hosts', readonly: true },
        ...(request.binds ?? []),
        ...(memory?.binds ?? []),
      ],
      tmpfs: request.tmpfs ?? [],
      ...(ids.inUserNamespace ? { userNamespace: { ttyGroupMapped: isMapped(ids.gids, 5) } } : {}),
    });
    // With secrets, the bundle (config.json holds the environment) is the memory area.
    const bundle = memory?.dir ?? dir;
    await writeFile(join(bundle, 'config.json'), JSON.stringify(spec), { mode: 0o600 });

    const id = `kiln-${basename(dir).slice(2)}`;
    let exitCode: number;
    try {
      exitCode = await rt.run(bundle, id, { onOutput: request.onOutput, signal: request.signal, ...(request.attached ? { attached: request.attached } : {}) });
    } finally {
      await memory?.close();
      memory = undefined;
    }
    let changes: LayerEntry[] = [];
    if (request.collectChanges === 'always' || (request.collectChanges === 'on-success' && exitCode === 0)) {
      const upperDir = layout.kind === 'overlay' ? layout.upper : rootfs;
      const capabilities = await fileCapabilities(upperDir);
      if (!capabilities && !warnedNoGetcap) {
        warnedNoGetcap = true;
        request.onWarning?.('getcap is not installed: file capabilities that RUN steps set (setcap) are not kept in their layers; install libcap2-bin');
      }
      changes = await diffOverlayUpper(
        layout.kind === 'overlay'
          ? { upperDir, mergedDir: rootfs, lowerDirs: layout.lowers, lower: request.lower, exclude: stubs, capabilities }
          : { upperDir, mergedDir: rootfs, lowerDirs: [], lower: request.lower, exclude: stubs, wholeCopy: true, capabilities },
      );
    }
    if (mounted) await unmount(rootfs, { lazy: true });
    mounted = false;
    return { exitCode, changes, dispose };
  } catch (err) {
    await memory?.close().catch(() => undefined);
    if (mounted) await unmount(rootfs).catch(() => undefined);
    await dispose().catch(() => undefined);
    throw err;
  }
}

type RootfsLayout = { kind: 'overlay'; upper: string; lowers: string[] } | { kind: 'copy' };

/** Set when overlayfs could not be mounted once: later RUNs go straight to the copy. */
let overlayUnavailable: string | undefined;

/** Why overlayfs cannot be used here, once a RUN found out (for the sudo helper to pass back). */
export function overlayProblem(): string | undefined {
  return overlayUnavailable;
}

/**
 * Start unpacking an image's layers for a RUN that comes later (as the overlay's lower
 * directories), or undefined when no RUN here would use them (not root, no overlay). The RUN
 * itself waits for them through the store's per-layer lock.
 */
export function warmLowers(store: SandboxStore, layers: readonly LayerRecord[], signal?: AbortSignal): Promise<string[]> | undefined {
  if (layers.length === 0 || overlayUnavailable !== undefined || process.env.KILN_RUN_COPY_ROOTFS === '1') return undefined;
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return undefined;
  return unpackLowers(store, layers, signal);
}

/**
 * The rootfs: an overlay of the unpacked layers with a fresh upper directory; where overlayfs
 * cannot mount (a store on overlayfs or on a filesystem overlay cannot use as upper, no overlay
 * module, KILN_RUN_COPY_ROOTFS=1) a copy, unpacked from the layers for this RUN alone, said once.
 */
async function prepareRootfs(store: SandboxStore, request: SandboxRequest, dir: string, rootfs: string): Promise<RootfsLayout> {
  const giveUpOverlay = (reason: string) => {
    overlayUnavailable = reason;
    request.onWarning?.(`overlayfs cannot be used here (${reason}): RUN steps use a copy of the image's filesystem instead, which is slower`);
  };
  if (process.env.KILN_RUN_COPY_ROOTFS === '1' && overlayUnavailable === undefined) giveUpOverlay('KILN_RUN_COPY_ROOTFS=1 is set');
  if (overlayUnavailable === undefined) {
    const lowers = await unpackLowers(store, request.layers, request.signal);
    const upper = join(dir, 'upper');
    const work = join(dir, 'work');
    for (const d of [upper, work]) await mkdir(d);
    // The overlay needs a lower directory even for an empty image (FROM scratch).
    const lowerNames = lowers.length ? lowers.map((l) => basename(l)).reverse() : [await emptyLower(store)];
    try {
      await mountOverlay({ lowerRoot: store.unpackedDir, lowers: lowerNames, upper, work, target: rootfs });
      return { kind: 'overlay', upper, lowers: [...lowers].reverse() };
    } catch (err) {
      giveUpOverlay((err as Error).message);
    }
  }
  for (const layer of request.layers) {
    const src = layerSourceOf(store, layer);
    await extractLayer(src.open(), src.compression, rootfs);
  }
  return { kind: 'copy' };
}

/**
 * A file of the image, read from the mounted rootfs: the path is first resolved through the
 * image's own symlinks (so none is followed on the host), then read without following one.
 */
async function readInRootfs(rootfs: string, request: SandboxRequest, path: string): Promise<Buffer | undefined> {
  const real = await request.resolvePath(path.replace(/^\/+/, ''));
  if (real === '') return undefined;
  let handle;
  try {
    handle = await open(join(rootfs, real), fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
    if (!(await handle.stat()).isFile()) return undefined;
    return await handle.readFile();
  } catch {
    return undefined;
  } finally {
    await handle?.close();
  }
}

/** An empty directory under the unpacked layers, the lower of an image without layers. */
async function emptyLower(store: SandboxStore): Promise<string> {
  await mkdir(join(store.unpackedDir, 'empty'), { recursive: true, mode: 0o700 });
  return 'empty';
}

