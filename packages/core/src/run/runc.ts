// runc as Kiln's OCI runtime: one foreground `runc run` per process, in a state directory of
// Kiln's own (so `runc list` of other tools never sees these), killed and deleted on abort.

import { spawn } from 'node:child_process';
import { accessSync, constants as fsc } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import { delimiter, join } from 'node:path';
import { KilnError } from '../errors.js';
import type { ContainerRuntime, RunIo } from './runtime.js';

/** Where Kiln keeps runc's container state (a tmpfs on Linux: gone after a reboot, as it should be). */
export const RUNC_STATE_DIR = '/run/kiln/runc';

const SEARCH = ['/usr/sbin/runc', '/usr/bin/runc', '/usr/local/sbin/runc', '/usr/local/bin/runc'];

export class RuntimeNotFoundError extends KilnError {}

/** The runc binary: $KILN_RUNC, the usual places, or PATH. */
export function findRunc(env: NodeJS.ProcessEnv = process.env): string {
  const candidates = [env.KILN_RUNC, ...SEARCH, ...(env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, 'runc'))];
  for (const c of candidates) {
    if (!c) continue;
    try {
      accessSync(c, fsc.X_OK);
      return c;
    } catch {
      // next
    }
  }
  throw new RuntimeNotFoundError(
    'RUN needs runc, an OCI runtime, and none was found: install it (Debian/Ubuntu: `apt-get install runc`) or set KILN_RUNC to its path',
  );
}

export class Runc implements ContainerRuntime {
  readonly name = 'runc';

  constructor(
    private readonly binary = findRunc(),
    private readonly stateDir = RUNC_STATE_DIR,
  ) {}

  private command(args: string[]): Promise<{ code: number; stderr: string }> {
    return new Promise((resolve) => {
      const child = spawn(this.binary, ['--root', this.stateDir, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      child.on('error', (err) => resolve({ code: -1, stderr: err.message }));
      child.on('close', (code) => resolve({ code: code ?? -1, stderr }));
    });
  }

  async run(bundleDir: string, id: string, io: RunIo): Promise<number> {
    if (io.signal?.aborted) throw new KilnError('build interrupted');
    const a = io.attached;
    // With a terminal, runc (run in the foreground, no console socket) makes the container's
    // pseudo-terminal and relays it to its own stdio: those are the caller's terminal.
    const stdio = a?.tty ? a.fds : a ? [a.fds[0], 'pipe', 'pipe'] : ['ignore', 'pipe', 'pipe'];
    const child = spawn(this.binary, ['--root', this.stateDir, 'run', '--bundle', bundleDir, id], {
      stdio: stdio as ('ignore' | 'pipe' | number)[],
    });
    child.stdout?.on('data', (b: Buffer) => io.onOutput?.('stdout', b));
    child.stderr?.on('data', (b: Buffer) => io.onOutput?.('stderr', b));
    let killed = false;
    let closed = false;
    const onAbort = async () => {
      killed = true;
      // SIGKILL to every process of the container (its pid namespace dies with its init). Right
      // after the start runc may not have made the container yet: try again until runc is done.
      while (!closed) {
        await this.command(['kill', id, 'KILL']);
        if (!closed) await new Promise((r) => setTimeout(r, 100));
      }
    };
    const abort = () => void onAbort();
    io.signal?.addEventListener('abort', abort, { once: true });
    let code = -1;
    try {
      code = await new Promise<number>((resolve, reject) => {
        child.on('error', (err) => reject(new KilnError(`cannot start runc (${this.binary}): ${err.message}`)));
        child.on('close', (c, sig) => resolve(c ?? 128 + (sig ? (osConstants.signals[sig] ?? 0) : 0)));
      });
      if (killed) throw new KilnError('build interrupted');
      return code;
    } finally {
      closed = true;
      io.signal?.removeEventListener('abort', abort);
      // A foreground run that ends by itself deletes its container; after a kill or a failure, make sure.
      if (killed || code !== 0) await this.command(['delete', '--force', id]);
    }
  }

  async cleanStale(isStale: (id: string) => boolean): Promise<void> {
    let ids: string[];
    try {
      ids = await readdir(this.stateDir);
    } catch {
      return;
    }
    for (const id of ids.filter(isStale)) {
      await this.command(['kill', id, 'KILL']);
      await this.command(['delete', '--force', id]);
    }
  }
}
