// One RUN step, from its request to its layer: the sandbox runs the command and the changes are
// written as a layer into the store. As root this happens in this process; as a user with
// passwordless sudo (GitHub's hosted runners), only this part runs elevated, in a helper process
// (run-helper.ts) started with `sudo -n`; as a user without sudo where user namespaces are
// allowed, the same helper runs rootless, as root of a user namespace of its own
// (user-namespace.ts). The helper gets the request on stdin (secrets included, so they never show
// in a process list or an environment) and no environment of the job's.

import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, lstat, readdir, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KilnError } from '../errors.js';
import type { BlobFiles, BlobWriterFactory, LayerRecord } from '../contracts/blobs.js';
import { resolveInIndex, writeLayer, type WriteLayerOptions, type WrittenLayer } from '../layer/index.js';
import type { LowerEntry } from '../layer/overlay-diff.js';
import { FRAME, frame, readFrames } from './helper-protocol.js';
import type { ForwardedSocket, MemoryFile } from './memory-area.js';
import type { BindMount } from './oci-spec.js';
import { overlayProblem, requireLinux, runInSandbox, withRunSlot, type SandboxStore } from './sandbox.js';
import { idMapping, requireMapped, rootlessLaunch } from './user-namespace.js';

/** Everything a RUN step needs, as plain data (it crosses a pipe to the elevated helper). */
export interface RunStepRequest {
  layers: LayerRecord[];
  /** The image's filesystem index (relative paths), as [path, entry] pairs. */
  lower: [string, LowerEntry][];
  args: string[];
  env: string[];
  secretEnv: string[];
  cwd: string;
  user: string;
  network: 'host' | 'none';
  /** `RUN --security=insecure` with the entitlement: every capability, the host's devices. */
  privileged?: boolean;
  binds: BindMount[];
  tmpfs: { destination: string; size: number }[];
  memoryFiles: MemoryFile[];
  sockets: ForwardedSocket[];
  layer: WriteLayerOptions;
  /** Directories the caller made without root that must have this owner and mode (new cache mounts). */
  ownership: { path: string; uid: number; gid: number; mode: number }[];
  /** Temporary directories of the store the command may have written to, removed after it. */
  removeAfter: string[];
  /** `kiln run -i` (stdin) and `-t` (a terminal): the caller's streams reach the container. */
  attach?: { tty: boolean };
  /** When the changes become a layer: RUN's when the command succeeds (the default); `kiln run`'s always or never (--rm). */
  changes?: 'never' | 'on-success' | 'always';
  /** The caller's RUN settings, for the helper (sudo gives it no environment). */
  settings?: { runc?: string; copyRootfs: boolean };
}

export interface RunStepIo {
  onOutput?: (stream: 'stdout' | 'stderr', chunk: Buffer) => void;
  /** Where the caller's stdin, stdout and stderr are, for an attached request (default 0, 1, 2). */
  attachFds?: [number, number, number];
  onWarning?: (message: string) => void;
  signal?: AbortSignal;
}

export interface RunStepResult {
  exitCode: number;
  /** The step's layer, written into the store (when the command succeeded). */
  layer?: WrittenLayer;
  /** Why overlayfs could not be used (later steps then copy the rootfs at once). */
  overlayUnavailable?: string;
}

export type RunStepStore = SandboxStore & BlobWriterFactory & Pick<BlobFiles, 'root' | 'blobPath'>;

/** How the RUN machinery gets root here: it has it, through `sudo -n`, or in a user namespace. */
export type Elevation = 'root' | 'sudo' | 'rootless';

let elevationFound: Elevation | undefined;

/** Root, passwordless sudo, a user namespace, or a KilnError naming both ways out. */
export function elevation(): Elevation {
  requireLinux();
  if (process.getuid?.() === 0) return 'root';
  elevationFound ??= spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status === 0 ? 'sudo' : rootlessLaunch() ? 'rootless' : undefined;
  if (elevationFound) return elevationFound;
  throw new KilnError(
    'RUN needs root (it mounts an overlay and starts runc), and this user has neither passwordless sudo nor user namespaces ' +
      '(the kernel or AppArmor forbids unprivileged ones, as Ubuntu 24.04 does): run kiln as root (e.g. `sudo kiln build ...`), or give this user ' +
      'passwordless sudo and Kiln runs only the RUN sandbox through `sudo -n` (as on GitHub\'s hosted runners); ' +
      'builds without RUN need no root',
  );
}

/** What the sudo path learnt in this process: overlayfs is unusable here; warnings already shown. */
let overlayUnavailableHere: string | undefined;
const warningsShown = new Set<string>();

/** Run the step where root is: here, or in the helper (within the same parallelism bound). */
export function executeRun(store: RunStepStore, request: RunStepRequest, io: RunStepIo): Promise<RunStepResult> {
  const how = elevation();
  if (how === 'root') return runStepHere(store, request, io);
  if (how === 'sudo' && request.attach) {
    throw new KilnError('kiln run -i and -t cannot go through sudo (it closes the descriptors they need): run kiln itself as root, e.g. `sudo kiln run -it ...`');
  }
  const launcher = helperLauncher(how);
  return withRunSlot(async () => {
    const settings = { ...(process.env.KILN_RUNC ? { runc: process.env.KILN_RUNC } : {}), copyRootfs: process.env.KILN_RUN_COPY_ROOTFS === '1' || !!overlayUnavailableHere };
    // Each helper is a new process: a warning it gives every time is shown once.
    const onWarning = (message: string) => {
      if (warningsShown.has(message)) return;
      warningsShown.add(message);
      io.onWarning?.(message);
    };
    if (launcher.limitation) onWarning(launcher.limitation);
    const result = await runStepInHelper(store, launcher, { ...request, settings }, { ...io, onWarning });
    overlayUnavailableHere ??= result.overlayUnavailable;
    return result;
  });
}

/** As root, in this process. */
export async function runStepHere(store: RunStepStore, request: RunStepRequest, io: RunStepIo): Promise<RunStepResult> {
  for (const o of request.ownership) await applyOwnership(store, o);
  const lower = new Map(request.lower);
  try {
    const result = await runInSandbox(store, {
      ...request,
      lower,
      // Paths inside the image resolve through its own symlinks, as the step's view does.
      resolvePath: async (p) => resolveInIndex(lower, p).path,
      ...(request.attach ? { attached: { fds: io.attachFds ?? [0, 1, 2], tty: request.attach.tty } } : {}),
      collectChanges: request.changes ?? 'on-success',
      onOutput: io.onOutput,
      onWarning: io.onWarning,
      signal: io.signal,
    });
    const overlay = overlayProblem();
    const extra = overlay ? { overlayUnavailable: overlay } : {};
    const changes = request.changes ?? 'on-success';
    try {
      if (changes === 'never' || (changes === 'on-success' && result.exitCode !== 0)) return { exitCode: result.exitCode, ...extra };
      return { exitCode: result.exitCode, layer: await writeLayer(result.changes, store, request.layer), ...extra };
    } finally {
      await result.dispose();
    }
  } finally {
    for (const dir of request.removeAfter) await removeTemp(store, dir);
  }
}

/** A store directory named in a request: one entry right inside `parent`, named as the store names them. */
async function storeEntry(parent: string, path: string, name: RegExp, what: string): Promise<void> {
  if (dirname(path) !== parent || !name.test(basename(path))) throw new KilnError(`refusing to touch ${path}: not ${what}`);
  const st = await lstat(path);
  if (!st.isDirectory()) throw new KilnError(`refusing to touch ${path}: not a directory`);
}

/** Only a directory of the store's cache mounts (no link), and only what the mount asked for. */
async function applyOwnership(store: RunStepStore, o: RunStepRequest['ownership'][number]): Promise<void> {
  await storeEntry(store.cacheMountsDir, o.path, /^[0-9a-f]{64}$/, 'a cache mount of the store');
  requireMapped(idMapping(), o, `the cache mount owned by ${o.uid}:${o.gid}`);
  await chown(o.path, o.uid, o.gid);
  await chmod(o.path, o.mode);
}

async function removeTemp(store: RunStepStore, dir: string): Promise<void> {
  try {
    await storeEntry(join(store.root, 'tmp'), dir, /^k-[A-Za-z0-9._-]+$/, 'a temporary directory of the store');
  } catch {
    return; // gone already, or not ours to remove
  }
  await rm(dir, { recursive: true, force: true }).catch(() => undefined);
}

/**
 * The helper's file: beside this module (dist/run/), beside the bundle that inlines it (the CLI's
 * dist/cli/), or one folder up from the chunk that holds it (the Action's dist/chunks/).
 */
export function helperScript(): string {
  const candidates = ['./run-helper.js', '../run-helper.js'].map((p) => fileURLToPath(new URL(p, import.meta.url)));
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new KilnError(`the RUN helper is missing (looked for ${candidates.join(' and ')}): reinstall Kiln`);
  return found;
}

interface HelperLauncher {
  /** What starts the helper: its argv comes after. */
  prefix: string[];
  /** The environment the helper starts with (sudo makes its own). */
  env: NodeJS.ProcessEnv;
  /** How the helper runs, for errors. */
  what: string;
  /** Something the rootless helper cannot do here, said once. */
  limitation?: string;
}

function helperLauncher(how: 'sudo' | 'rootless'): HelperLauncher {
  // sudo resets the environment: the helper gets none of the job's variables.
  if (how === 'sudo') return { prefix: ['sudo', '-n', '--'], env: process.env, what: 'through sudo' };
  const rootless = rootlessLaunch()!;
  // In the user namespace, only what the helper needs to find its tools.
  return { prefix: [...rootless.prefix, '--'], env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' }, what: 'in a user namespace', limitation: rootless.limitation };
}

/** Through the helper: the request on stdin, frames back on stdout. */
async function runStepInHelper(store: RunStepStore, launcher: HelperLauncher, request: RunStepRequest, io: RunStepIo): Promise<RunStepResult> {
  if (io.signal?.aborted) throw new KilnError('build interrupted');
  const [command, ...args] = [...launcher.prefix, process.execPath, helperScript(), store.root];
  // Attached (kiln run -i/-t, rootless): this process's stdin, stdout and stderr go to the helper as fds 3, 4, 5.
  const attached: ('pipe' | number)[] = request.attach ? [0, 1, 2] : [];
  const child = spawn(command!, args, { stdio: ['pipe', 'pipe', 'pipe', ...attached], env: launcher.env }) as ChildProcessWithoutNullStreams;
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-4096)));
  const exited = new Promise<number>((resolve) => {
    child.on('error', () => resolve(-1));
    child.on('close', (code) => resolve(code ?? -1));
  });
  // Ending stdin asks the helper to stop: it kills the container and cleans up, then exits.
  const abort = () => child.stdin.end();
  io.signal?.addEventListener('abort', abort, { once: true });
  child.stdin.on('error', () => undefined);
  const wire = { ...request, memoryFiles: request.memoryFiles.map((f) => ({ ...f, data: f.data.toString('base64') })) };
  child.stdin.write(frame(FRAME.request, JSON.stringify(wire)));
  let result: RunStepResult | undefined;
  let failure: { message: string; user: boolean } | undefined;
  try {
    for await (const { type, payload } of readFrames(child.stdout)) {
      if (type === FRAME.stdout) io.onOutput?.('stdout', payload);
      else if (type === FRAME.stderr) io.onOutput?.('stderr', payload);
      else if (type === FRAME.warning) io.onWarning?.(payload.toString('utf8'));
      else if (type === FRAME.result) result = JSON.parse(payload.toString('utf8')) as RunStepResult;
      else if (type === FRAME.error) failure = JSON.parse(payload.toString('utf8')) as { message: string; user: boolean };
    }
  } finally {
    io.signal?.removeEventListener('abort', abort);
    child.stdin.end();
  }
  const code = await exited;
  if (io.signal?.aborted) throw new KilnError('build interrupted');
  if (failure) throw failure.user ? new KilnError(failure.message) : new Error(failure.message);
  if (!result || code !== 0) {
    throw new KilnError(`the RUN helper (${launcher.what}) ended with ${code} and no result${stderr.trim() ? `: ${stderr.trim().split('\n').slice(-3).join('; ')}` : ''}`);
  }
  return result;
}

/** The request as the helper reads it (secret files' bytes travel as base64). */
export function parseRequest(json: string): RunStepRequest {
  const wire = JSON.parse(json) as Omit<RunStepRequest, 'memoryFiles'> & { memoryFiles: (Omit<MemoryFile, 'data'> & { data: string })[] };
  return { ...wire, memoryFiles: wire.memoryFiles.map((f) => ({ ...f, data: Buffer.from(f.data, 'base64') })) };
}

/** Give what the helper (root) made at the top of the store to the store's owner, but its own private directories. */
export async function returnStoreEntries(root: string, before: ReadonlySet<string>, blob?: string): Promise<void> {
  const owner = await lstat(root);
  const keepRoot = new Set(['unpacked', 'sandboxes']);
  for (const name of await readdir(root)) {
    if (!before.has(name) && !keepRoot.has(name)) await chown(`${root}/${name}`, owner.uid, owner.gid);
  }
  if (blob) await chown(blob, owner.uid, owner.gid);
}
