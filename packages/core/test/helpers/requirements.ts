/**
 * What a test needs from the machine (a tool from a Debian package, a private dockerd, the shared
 * conformance data, mount rights) and what happens when it is not there. Every test that needs
 * something outside node_modules asks here, so the rule is the same everywhere:
 *
 * - everything is there: the tests run;
 * - something is missing: the tests FAIL, saying what is missing and how to get it
 *   (`scripts/install-test-deps.sh`, which `npm test` runs first);
 * - unless the contributor asked for skipping with KILN_SKIP_MISSING_TOOLS=1. Then they are
 *   skipped, and each skip is recorded for the list jest prints at the very end of the run
 *   (jest.global-teardown.js). With CI=true that variable is not honoured: a CI run never loses
 *   tests to a missing package.
 * - explicit choices skip too, also with CI=true, and are listed the same way: an opt-out that is
 *   set (KILN_SKIP_DOCKER_TESTS=1) or an opt-in that is not (KILN_HARNESS_TESTS, KILN_BENCH).
 *
 * KILN_TEST_PRETEND_MISSING=umoci,docker,conformance (requirement ids, or the part before ':')
 * makes those look missing, to try the failing and skipping paths on a machine that has all.
 */
import { accessSync, appendFileSync, constants } from 'node:fs';
import { delimiter, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');

/** The script that installs what the tests need (the Debian packages below, and runc). */
export const INSTALL_SCRIPT = 'scripts/install-test-deps.sh';

export interface Requirement {
  /** What KILN_TEST_PRETEND_MISSING names: 'umoci', 'docker', 'conformance:buildkit-shell'. */
  id: string;
  /** For messages: 'umoci', 'a private dockerd', "conformance data 'buildkit-shell'". */
  what: string;
  /** Why it cannot be used here, or undefined when it can. */
  unavailable(): string | undefined;
  /** How to get it, for the failure message. */
  remedy: string;
  /** An explicit choice to skip (an opt-out that is set, an opt-in that is not): why; else undefined. */
  chosenSkip?(): string | undefined;
}

export type Verdict = { kind: 'run' } | { kind: 'skip'; reason: string } | { kind: 'fail'; message: string };

type Env = Record<string, string | undefined>;

/** An environment flag: set and not '', '0', 'false' or 'no'. */
export function flag(value: string | undefined): boolean {
  return value !== undefined && !['', '0', 'false', 'no'].includes(value.trim().toLowerCase());
}

/** Whether a missing requirement may be skipped: KILN_SKIP_MISSING_TOOLS is set and CI is not. */
export function skippingMissingAllowed(env: Env = process.env): boolean {
  return flag(env['KILN_SKIP_MISSING_TOOLS']) && !flag(env['CI']);
}

function pretendedMissing(id: string, env: Env): boolean {
  const names = (env['KILN_TEST_PRETEND_MISSING'] ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  return names.includes(id) || names.includes(id.split(':')[0]!);
}

/** What to do with tests that need `reqs`: run them, skip them (why), or fail them (message). */
export function decide(reqs: readonly Requirement[], env: Env = process.env): Verdict {
  for (const r of reqs) {
    const why = r.chosenSkip?.();
    if (why) return { kind: 'skip', reason: why };
  }
  const missing: string[] = [];
  const remedies: string[] = [];
  for (const r of reqs) {
    const why = pretendedMissing(r.id, env) ? 'KILN_TEST_PRETEND_MISSING names it' : r.unavailable();
    if (why === undefined) continue;
    missing.push(`${r.what} (${why})`);
    if (!remedies.includes(r.remedy)) remedies.push(r.remedy);
  }
  if (missing.length === 0) return { kind: 'run' };
  const list = missing.join(', ');
  if (skippingMissingAllowed(env)) return { kind: 'skip', reason: `missing ${list}; KILN_SKIP_MISSING_TOOLS=1` };
  const how = flag(env['CI'])
    ? 'With CI=true a missing tool fails the run (KILN_SKIP_MISSING_TOOLS is not honoured).'
    : 'Or set KILN_SKIP_MISSING_TOOLS=1 to skip the tests that need it; the end of the run lists them.';
  return { kind: 'fail', message: `missing ${list}. Get it: ${remedies.join('; ')}. ${how}` };
}

// ---------------------------------------------------------------------------------------------
// Tools from Debian packages

interface ToolSpec {
  /** A command looked up on PATH (and the sbin directories), or an absolute path. */
  bin: string;
  /** The Debian package that provides it (scripts/install-test-deps.sh installs it). */
  pkg: string;
}

export const TOOLS = {
  skopeo: { bin: 'skopeo', pkg: 'skopeo' },
  umoci: { bin: 'umoci', pkg: 'umoci' },
  'docker-registry': { bin: process.env['KILN_TEST_REGISTRY_BIN'] ?? '/usr/bin/docker-registry', pkg: 'docker-registry' },
  openssl: { bin: 'openssl', pkg: 'openssl' },
  htpasswd: { bin: 'htpasswd', pkg: 'apache2-utils' },
  python3: { bin: 'python3', pkg: 'python3' },
  git: { bin: 'git', pkg: 'git' },
  zstd: { bin: 'zstd', pkg: 'zstd' },
  bzip2: { bin: 'bzip2', pkg: 'bzip2' },
  xz: { bin: 'xz', pkg: 'xz-utils' },
  runc: { bin: 'runc', pkg: 'runc' },
  /** File capabilities: Kiln reads them with getcap; the tests set them with setcap. */
  getcap: { bin: 'getcap', pkg: 'libcap2-bin' },
  setcap: { bin: 'setcap', pkg: 'libcap2-bin' },
  /** RUN through `sudo -n` as a user who is not root (GitHub's hosted runners). */
  sudo: { bin: '/usr/bin/sudo', pkg: 'sudo' },
  /** Rootless RUN: a user namespace (util-linux) with the user's subordinate ids mapped. */
  unshare: { bin: 'unshare', pkg: 'util-linux' },
  newuidmap: { bin: 'newuidmap', pkg: 'uidmap' },
  /** Copied into the tests' base image, so it must be the static build. */
  busybox: { bin: '/bin/busybox', pkg: 'busybox-static' },
} as const satisfies Record<string, ToolSpec>;

export type ToolName = keyof typeof TOOLS;

const found = new Map<string, string | undefined>();

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Where a tool's executable is, or undefined. */
export function toolPath(name: ToolName): string | undefined {
  const { bin } = TOOLS[name];
  if (found.has(bin)) return found.get(bin);
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'].filter((d) => d !== '');
  const path = isAbsolute(bin) ? (executable(bin) ? bin : undefined) : dirs.map((d) => join(d, bin)).find(executable);
  found.set(bin, path);
  return path;
}

/** The requirement for one tool. */
export function tool(name: ToolName): Requirement {
  const { bin, pkg } = TOOLS[name];
  return {
    id: name,
    what: name,
    unavailable: () => (toolPath(name) ? undefined : isAbsolute(bin) ? `no ${bin}` : 'not on PATH'),
    remedy: `run ${INSTALL_SCRIPT} as root (Debian package ${pkg})`,
  };
}

/** Requirements for several tools. */
export const tools = (...names: ToolName[]): Requirement[] => names.map(tool);

/** A property of the machine (mount rights, a writable /dev/shm) as a requirement. */
export function capability(id: string, what: string, missing: () => string | undefined, remedy: string): Requirement {
  let cached: { why: string | undefined } | undefined;
  return {
    id,
    what,
    unavailable: () => (cached ??= { why: missing() }).why,
    remedy,
  };
}

/** Tests that run only when `variable` is set (opt-in): skipped, and listed, otherwise. */
export function optIn(variable: string, what: string): Requirement {
  return {
    id: `opt-in:${variable}`,
    what,
    unavailable: () => undefined,
    remedy: '',
    chosenSkip: () => (flag(process.env[variable]) ? undefined : `${what}: opt-in, set ${variable}=1 to run`),
  };
}

// ---------------------------------------------------------------------------------------------
// Recording skips for the end-of-run list

/** The file of the test module being collected or run, relative to the repository. */
function currentTestFile(): string {
  let path: string | undefined;
  try {
    path = expect.getState().testPath ?? undefined;
  } catch {
    path = undefined;
  }
  return path ? relative(repoRoot, path) : '(unknown test file)';
}

/**
 * Notes a skip for the list at the end of the run: a line in $KILN_TEST_RUN_DIR/skipped.jsonl
 * (made by jest.global-setup.js, printed by jest.global-teardown.js), or a warning when jest was
 * started without that setup.
 */
export function recordSkip(title: string, reason: string): void {
  const entry = { file: currentTestFile(), title, reason };
  const dir = process.env['KILN_TEST_RUN_DIR'];
  if (dir) appendFileSync(join(dir, 'skipped.jsonl'), `${JSON.stringify(entry)}\n`);
  else console.warn(`SKIPPED: ${entry.file} › ${title}: ${reason}`);
}

// ---------------------------------------------------------------------------------------------
// describe / it / in-test checks

/** `describe(name, body)` when `reqs` are met; else a skipped (recorded) or failing stand-in. */
export function describeNeeding(reqs: readonly Requirement[], name: string, body: () => void): void {
  const v = decide(reqs);
  if (v.kind === 'run') {
    describe(name, body);
  } else if (v.kind === 'skip') {
    recordSkip(name, v.reason);
    describe.skip(name, () => it(`skipped: ${v.reason}`, () => undefined));
  } else {
    describe(name, () => it('has what it needs', () => {
      throw new Error(v.message);
    }));
  }
}

/** `it(name, fn, timeout)` when `reqs` are met; else skipped (recorded) or failing with the message. */
export function itNeeding(reqs: readonly Requirement[], name: string, fn: jest.ProvidesCallback, timeout?: number): void {
  const v = decide(reqs);
  if (v.kind === 'run') {
    it(name, fn, timeout);
  } else if (v.kind === 'skip') {
    recordSkip(name, v.reason);
    it.skip(`${name} (skipped: ${v.reason})`, () => undefined);
  } else {
    it(name, () => {
      throw new Error(v.message);
    });
  }
}

/**
 * Inside a test, before an optional part of it: true when `reqs` are met; false (the skip
 * recorded under `part`) when skipping is allowed; otherwise throws the failure message.
 */
export function haveNow(reqs: readonly Requirement[], part: string): boolean {
  const v = decide(reqs);
  if (v.kind === 'run') return true;
  if (v.kind === 'fail') throw new Error(`${part}: ${v.message}`);
  recordSkip(part, v.reason);
  return false;
}

/** Root: RUN mounts an overlay and starts runc (and some tests make users and sudo rules). */
export const ROOT: Requirement = capability(
  'root',
  'running as root (RUN mounts an overlay and starts runc)',
  () => (process.getuid?.() === 0 ? undefined : 'not running as root'),
  'run the tests as root',
);
