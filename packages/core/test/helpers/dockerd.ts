/**
 * A private Docker daemon for differential tests (build with `docker build`, build with Kiln,
 * compare). `useDockerd()` in a describe gives its tests one.
 *
 * One daemon serves the whole jest run: the first test file that asks starts it (from its jest
 * worker; the other workers wait for it and connect), and jest.global-teardown.js stops it by PID
 * at the end. The run directory (KILN_TEST_RUN_DIR, made by jest.global-setup.js) records it. This
 * is safe because the test files that share it use image names of their own (kiln-diff/...,
 * kiln-test/with-whiteouts..., 127.0.0.1:PORT/...), and the one thing they all make, the busybox
 * base image, is made under a lock (base-images.ts). `useDockerd({ private: true })`, or jest
 * started without the global setup, gives a file its own daemon, stopped in its afterAll.
 *
 * Each daemon lives entirely under its own /tmp/kiln-dockerd-XXXXXX directory: data-root, exec-root
 * (which also holds the containerd that dockerd starts for itself), socket, pidfile, log and client
 * config. It never touches host networking (--iptables=false --ip-forward=false --bridge=none), so
 * BuildKit RUN steps need `--network=host` or `--network=none` (without, they fail with "network
 * bridge not found"); `dockerBuild` passes `--network=host`, like Kiln's RUN sandbox. RUN works
 * (runc). Never use images that are not in the daemon: a missing FROM is pulled from Docker Hub.
 *
 * Offline facts for Debian's docker.io 20.10.24 (checked on the test machine):
 * - BuildKit (DOCKER_BUILDKIT=1) works offline: `FROM` a locally present image resolves from the
 *   daemon's image store without contacting a registry.
 * - A `# syntax=...` line makes BuildKit pull the frontend image from Docker Hub: never use one.
 * - The built-in Dockerfile frontend supports `COPY --chmod` and `--chown`, but not heredocs,
 *   `COPY --link` or `ADD --checksum` (parse errors).
 * - The classic builder (DOCKER_BUILDKIT=0) also works offline but rejects `--chmod`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { findDockerd, stopDockerdAt } from './dockerd-process.js';
import { describeNeeding, flag, tool, type Requirement } from './requirements.js';

/** The docker client to use: Debian's 20.10 client (has BuildKit; /usr/local/bin/docker has no buildx). */
export const DOCKER_CLI = process.env.KILN_TEST_DOCKER_CLI ?? '/usr/bin/docker';

export interface DockerResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface DockerOptions {
  /** Written to the client's stdin. */
  input?: string | Buffer;
  /** Extra environment (overrides DOCKER_BUILDKIT=1 if given). */
  env?: Record<string, string>;
  cwd?: string;
  /** Kill the client after this long (default 120 s). */
  timeoutMs?: number;
}

export interface Dockerd {
  /** The -H value, e.g. unix:///tmp/kiln-dockerd-AbC123/docker.sock */
  host: string;
  /** The private directory holding everything of this daemon. */
  root: string;
  /** PID of the dockerd process. */
  pid: number;
  logFile: string;
  /** Whether the daemon serves the whole jest run (then stop() leaves it to the global teardown). */
  shared: boolean;
  /** Environment for a docker client talking to this daemon (DOCKER_HOST, DOCKER_BUILDKIT=1, DOCKER_CONFIG). */
  env: Record<string, string>;
  /** Runs `docker -H host ...args`; never throws on a non-zero exit. */
  docker(args: string[], opts?: DockerOptions): Promise<DockerResult>;
  /** Like docker(), but throws (with the command, exit code and stderr) unless the exit code is 0; returns stdout. */
  dockerOk(args: string[], opts?: DockerOptions): Promise<string>;
  /** Spawns `docker -H host ...args` with stdout as a stream (for `docker export`/`save`). */
  spawn(args: string[], opts?: { env?: Record<string, string>; cwd?: string }): ChildProcess;
  /** A private daemon: SIGTERMs it, waits, unmounts leftovers and removes its directory. A shared one: nothing. */
  stop(): Promise<void>;
  /** The last lines of the daemon's log. */
  logTail(lines?: number): string;
}

/** Why a private dockerd cannot be started here (missing binaries, not root), or undefined. */
function dockerdMissingReason(): string | undefined {
  if (process.platform !== 'linux') return `platform is ${process.platform}, not linux`;
  if (!findDockerd()) return 'no dockerd binary (/usr/sbin/dockerd; set KILN_TEST_DOCKERD)';
  if (!existsSync(DOCKER_CLI)) return `no docker client at ${DOCKER_CLI} (set KILN_TEST_DOCKER_CLI)`;
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'not running as root';
  return undefined;
}

/** Why docker-based tests cannot run here (KILN_SKIP_DOCKER_TESTS included), or undefined when they can. */
export function dockerUnavailableReason(): string | undefined {
  if (flag(process.env.KILN_SKIP_DOCKER_TESTS)) return 'KILN_SKIP_DOCKER_TESTS is set';
  return dockerdMissingReason();
}

/** A private dockerd as a test requirement (KILN_SKIP_DOCKER_TESTS=1 skips, also with CI=true). */
export const DOCKER: Requirement = {
  id: 'docker',
  what: 'a private dockerd',
  unavailable: dockerdMissingReason,
  remedy: 'run scripts/install-test-deps.sh as root (Debian packages docker.io and runc); the tests start their own dockerd, as root',
  chosenSkip: () => (flag(process.env.KILN_SKIP_DOCKER_TESTS) ? 'KILN_SKIP_DOCKER_TESTS is set' : undefined),
};

/**
 * `describe` when a private dockerd can run (and the static busybox for the base image is
 * there); otherwise the tests fail, or are skipped and listed (see helpers/requirements.ts).
 */
export function describeWithDocker(name: string, body: () => void, more: readonly Requirement[] = []): void {
  describeNeeding([DOCKER, tool('busybox'), ...more], name, body);
}

function tail(file: string, lines: number): string {
  try {
    const all = readFileSync(file, 'utf8').split('\n');
    return all.slice(-lines - 1).join('\n');
  } catch {
    return '(no log)';
  }
}

function runProcess(cmd: string, args: string[], env: NodeJS.ProcessEnv, opts: DockerOptions): Promise<DockerResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { env, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 120_000);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      let stderr = Buffer.concat(err).toString('utf8');
      if (timedOut) stderr += `\n(killed after ${opts.timeoutMs ?? 120_000} ms)`;
      resolvePromise({ stdout: Buffer.concat(out).toString('utf8'), stderr, code: code ?? (signal ? 128 : 1) });
    });
    child.stdin.on('error', () => undefined);
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
  });
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort if afterAll never ran (crash, forced exit): do not leave private daemons behind.
  process.on('exit', () => {
    for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  });
}

export interface StartDockerdOptions {
  /** How long to wait for `docker version` to answer (default 60 s). */
  startTimeoutMs?: number;
  /** Extra dockerd flags (a daemon with extra flags is always private to its file). */
  extraArgs?: string[];
}

/** What identifies a running daemon; the shared one is written to $KILN_TEST_RUN_DIR/dockerd.json. */
interface DaemonInfo {
  pid: number;
  root: string;
  host: string;
  logFile: string;
}

/** A client for a running daemon. */
function clientFor(info: DaemonInfo, shared: boolean, stop: () => Promise<void>): Dockerd {
  const { host, root } = info;
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: root,
    DOCKER_HOST: host,
    DOCKER_CONFIG: join(root, 'client-config'),
    DOCKER_BUILDKIT: '1',
  };
  const docker = (a: string[], opts: DockerOptions = {}): Promise<DockerResult> =>
    runProcess(DOCKER_CLI, ['-H', host, ...a], { ...env, ...opts.env }, opts);
  const dockerOk = async (a: string[], opts: DockerOptions = {}): Promise<string> => {
    const r = await docker(a, opts);
    if (r.code !== 0) {
      throw new Error(`docker ${a.join(' ')} exited with ${r.code}:\n${r.stderr.trim()}\n${r.stdout.trim()}`.trim());
    }
    return r.stdout;
  };
  return {
    ...info,
    shared,
    env,
    docker,
    dockerOk,
    spawn: (a, o = {}) =>
      spawn(DOCKER_CLI, ['-H', host, ...a], { env: { ...env, ...o.env }, cwd: o.cwd, stdio: ['ignore', 'pipe', 'pipe'] }),
    stop,
    logTail: (n = 30) => tail(info.logFile, n),
  };
}

/**
 * Starts a private dockerd and waits until it answers. With `shared` (the daemon of a whole run)
 * the worker neither waits for it nor kills it on exit: jest.global-teardown.js stops it.
 */
export async function startDockerd(options: StartDockerdOptions & { shared?: boolean } = {}): Promise<Dockerd> {
  const reason = dockerUnavailableReason();
  if (reason) throw new Error(`cannot start a private dockerd: ${reason}`);
  const dockerdBin = findDockerd()!;
  // Fixed short parent: unix socket paths must stay under 108 bytes, and TMPDIR may be long.
  const root = mkdtempSync('/tmp/kiln-dockerd-');
  const host = `unix://${root}/docker.sock`;
  const logFile = join(root, 'dockerd.log');
  const clientConfig = join(root, 'client-config');
  const configFile = join(root, 'daemon.json');
  writeFileSync(configFile, '{}\n');
  for (const d of [clientConfig, join(root, 'data'), join(root, 'exec')]) mkdirSync(d, { recursive: true });
  writeFileSync(join(clientConfig, 'config.json'), '{}\n');
  const tag = root.slice(-6).toLowerCase().replace(/[^a-z0-9]/g, 'x');

  const args = [
    '--data-root', join(root, 'data'),
    '--exec-root', join(root, 'exec'),
    '-H', host,
    '--pidfile', join(root, 'docker.pid'),
    '--config-file', configFile,
    '--iptables=false',
    '--ip-forward=false',
    '--ip-masq=false',
    '--bridge=none',
    '--userland-proxy=false',
    // Distinct namespaces in case dockerd picks a system containerd instead of starting its own.
    '--containerd-namespace', `kiln-${tag}`,
    '--containerd-plugins-namespace', `kiln-${tag}-plugins`,
    ...(options.extraArgs ?? []),
  ];
  const logFd = openSync(logFile, 'a');
  const child = spawn(dockerdBin, args, {
    stdio: ['ignore', logFd, logFd],
    // dockerd finds containerd, runc and docker-init through PATH.
    env: { PATH: `${process.env.PATH ?? ''}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`, HOME: root },
  });
  closeSync(logFd);
  if (child.pid === undefined) {
    await rm(root, { recursive: true, force: true });
    throw new Error(`could not spawn ${dockerdBin}`);
  }
  const info: DaemonInfo = { pid: child.pid, root, host, logFile };
  if (options.shared) {
    child.unref();
  } else {
    live.add(child);
    child.once('exit', () => live.delete(child));
    installExitHook();
  }

  let stopped = false;
  const stopNow = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await stopDockerdAt(info);
  };
  const d = clientFor(info, !!options.shared, options.shared ? async () => undefined : stopNow);

  const startTimeout = options.startTimeoutMs ?? 60_000;
  const deadline = Date.now() + startTimeout;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const logText = tail(logFile, 30);
      await stopNow();
      throw new Error(`dockerd exited early (code ${child.exitCode}, signal ${child.signalCode}); log tail:\n${logText}`);
    }
    const last = await d.docker(['version', '--format', '{{.Server.Version}}'], { timeoutMs: 10_000 });
    if (last.code === 0) break;
    if (Date.now() > deadline) {
      const logText = tail(logFile, 30);
      await stopNow();
      throw new Error(
        `dockerd did not answer within ${startTimeout / 1000} s at ${host}; last client error: ${last.stderr.trim()}\n` +
          `dockerd log tail:\n${logText}`,
      );
    }
    await sleep(250);
  }
  return d;
}

/**
 * Runs `fn` holding a lock file at `path` (made with O_EXCL, removed afterwards): one process at a
 * time, across the jest workers. Waits up to `timeoutMs` for the lock.
 */
export async function withLockFile<T>(path: string, fn: () => Promise<T>, timeoutMs = 180_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      closeSync(openSync(path, 'wx'));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (Date.now() > deadline) throw new Error(`lock ${path} still held after ${timeoutMs / 1000} s`);
      await sleep(200);
    }
  }
  try {
    return await fn();
  } finally {
    unlinkSync(path);
  }
}

/**
 * The dockerd of this jest run: started by the first caller (in whichever worker), recorded in
 * $KILN_TEST_RUN_DIR/dockerd.json; later callers connect to it.
 */
async function sharedDockerd(runDir: string, options: StartDockerdOptions): Promise<Dockerd> {
  const infoFile = join(runDir, 'dockerd.json');
  const errorFile = join(runDir, 'dockerd.error');
  const keep = async (): Promise<void> => undefined;
  return withLockFile(join(runDir, 'dockerd.lock'), async () => {
    if (existsSync(errorFile)) throw new Error(`the run's dockerd did not start: ${readFileSync(errorFile, 'utf8')}`);
    if (existsSync(infoFile)) {
      const d = clientFor(JSON.parse(readFileSync(infoFile, 'utf8')) as DaemonInfo, true, keep);
      const v = await d.docker(['version', '--format', '{{.Server.Version}}'], { timeoutMs: 10_000 });
      if (v.code !== 0) throw new Error(`the run's dockerd (pid ${d.pid}) does not answer: ${v.stderr.trim()}\n${d.logTail()}`);
      return d;
    }
    try {
      const d = await startDockerd({ ...options, shared: true });
      const { pid, root, host, logFile } = d;
      writeFileSync(`${infoFile}.tmp`, `${JSON.stringify({ pid, root, host, logFile })}\n`);
      renameSync(`${infoFile}.tmp`, infoFile);
      return d;
    } catch (err) {
      writeFileSync(errorFile, (err as Error).message);
      throw err;
    }
  }, (options.startTimeoutMs ?? 60_000) + 30_000);
}

/**
 * Registers beforeAll/afterAll hooks that give the enclosing describe a dockerd: the run's shared
 * one (when jest runs with jest.global-setup.js), or with `private: true` (or extra daemon flags)
 * one of its own, stopped in afterAll. Read `.dockerd` inside tests and hooks.
 */
export function useDockerd(options: StartDockerdOptions & { private?: boolean } = {}): { readonly dockerd: Dockerd } {
  let d: Dockerd | undefined;
  const runDir = options.private || (options.extraArgs ?? []).length > 0 ? undefined : process.env.KILN_TEST_RUN_DIR;
  beforeAll(async () => {
    d = runDir ? await sharedDockerd(runDir, options) : await startDockerd(options);
  }, (options.startTimeoutMs ?? 60_000) + 60_000);
  afterAll(async () => {
    await d?.stop();
  }, 60_000);
  return {
    get dockerd(): Dockerd {
      if (!d) throw new Error('the private dockerd is not running (useDockerd: beforeAll failed or not run yet)');
      return d;
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

// ---------------------------------------------------------------------------------------------
// Building and loading images

export interface DockerBuildOptions {
  contextDir: string;
  /** Path of the Dockerfile (absolute or relative to contextDir); default contextDir/Dockerfile. */
  dockerfile?: string;
  tag: string;
  buildArgs?: Record<string, string>;
  target?: string;
  /** Default true (BuildKit). false uses the classic builder (DOCKER_BUILDKIT=0). */
  buildkit?: boolean;
  /** Default 'host' (the private daemon has no bridge network; Kiln's RUN uses the host network too). */
  network?: string;
  noCache?: boolean;
  extraArgs?: string[];
}

export interface DockerBuildResult extends DockerResult {
  /** The image ID (sha256:...) when the build succeeded. */
  imageId?: string;
}

/** `docker build` of a context; returns the output and, on success, the image ID. */
export async function dockerBuild(dockerd: Dockerd, o: DockerBuildOptions): Promise<DockerBuildResult> {
  const args = ['build', '--progress=plain', '-t', o.tag];
  if (o.buildkit === false) args.splice(1, 1); // classic builder has no --progress
  if (o.dockerfile) args.push('-f', o.dockerfile);
  for (const [k, v] of Object.entries(o.buildArgs ?? {})) args.push('--build-arg', `${k}=${v}`);
  if (o.target) args.push('--target', o.target);
  args.push(`--network=${o.network ?? 'host'}`);
  if (o.noCache) args.push('--no-cache');
  args.push(...(o.extraArgs ?? []), o.contextDir);
  const r = await dockerd.docker(args, { cwd: o.contextDir, env: { DOCKER_BUILDKIT: o.buildkit === false ? '0' : '1' } });
  if (r.code !== 0) return r;
  const id = (await dockerd.docker(['image', 'inspect', '--format', '{{.Id}}', o.tag])).stdout.trim();
  return { ...r, imageId: id || undefined };
}

/** `docker load -i file` (a docker-archive, e.g. from `kiln build --output type=docker,dest=...`); returns what docker printed. */
export async function dockerLoad(dockerd: Dockerd, archive: string): Promise<string[]> {
  const out = await dockerd.dockerOk(['load', '-i', archive]);
  // "Loaded image: name:tag" or "Loaded image ID: sha256:..."
  return out
    .split('\n')
    .map((l) => /^Loaded image(?: ID)?: (.+)$/.exec(l.trim())?.[1])
    .filter((x): x is string => !!x);
}
