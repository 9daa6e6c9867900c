// Helpers for build tests: run `kiln` in-process or as a real process, and make contexts.
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { main } from '../../src/cli/main.js';
import { repoRoot } from '../helpers/conformance.js';

export const kilnBin = resolve(repoRoot, 'packages/core/bin/kiln.js');

export interface KilnRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run kiln in this process (fast); output captured. */
export async function kiln(args: string[]): Promise<KilnRun> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    readStdin: async () => new Uint8Array(),
  });
  return { code, stdout, stderr };
}

/**
 * Run the real kiln binary as a separate process; with `user`, as that user (through setpriv, with
 * only PATH and the given variables, as a CI job's user would have).
 */
export async function kilnProcess(args: string[], cwd?: string, env?: NodeJS.ProcessEnv, user?: { uid: number; gid: number }): Promise<KilnRun> {
  const [command, argv] = user
    ? ['setpriv', ['--reuid', String(user.uid), '--regid', String(user.gid), '--init-groups', process.execPath, kilnBin, ...args]]
    : [process.execPath, [kilnBin, ...args]];
  try {
    const { stdout, stderr } = await promisify(execFile)(command, argv, {
      cwd, env: user ? { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env } : { ...process.env, ...env }, maxBuffer: 64 << 20,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout, stderr: e.stderr };
  }
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `kiln-${prefix}-`));
}

export type FileSpec = string | { content?: string; mode?: number; symlink?: string; dir?: true };

/** Write a context: path -> content, or {content, mode}, {symlink}, {dir}. */
export function writeTree(root: string, files: Record<string, FileSpec>): string {
  for (const [path, spec] of Object.entries(files)) {
    const abs = join(root, path);
    mkdirSync(dirname(abs), { recursive: true });
    if (typeof spec === 'string') writeFileSync(abs, spec);
    else if (spec.symlink !== undefined) symlinkSync(spec.symlink, abs);
    else if (spec.dir) mkdirSync(abs, { recursive: true });
    else writeFileSync(abs, spec.content ?? '');
    if (typeof spec !== 'string' && spec.mode !== undefined) chmodSync(abs, spec.mode);
  }
  return root;
}

/** A small base image built by Kiln itself (FROM scratch + a rootfs with users), as an OCI layout. */
export async function makeBaseLayout(work: string, store: string): Promise<string> {
  const ctx = writeTree(join(work, 'base-ctx'), {
    Dockerfile: 'FROM scratch\nCOPY rootfs/ /\nCMD ["/bin/sh"]\n',
    'rootfs/etc/passwd': 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n',
    'rootfs/etc/group': 'root:x:0:\napp:x:1000:\nstaff:x:50:\nnogroup:x:65534:\n',
    'rootfs/bin/sh': { content: '#!fake shell\n', mode: 0o755 },
    'rootfs/home/app': { dir: true },
    'rootfs/tmp': { dir: true, mode: 0o1777 },
  });
  const dest = join(work, 'base-layout');
  const r = await kiln(['build', '--store', store, '--progress', 'quiet', '-t', 'kiln-test/base:latest', '--output', `type=oci,dest=${dest}`, ctx]);
  if (r.code !== 0) throw new Error(`base build failed: ${r.stderr}`);
  return dest;
}
