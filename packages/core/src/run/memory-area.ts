// What a RUN must have but no disk may keep: secret files, the process's secret environment (in
// the bundle's config.json) and forwarded SSH agent sockets. They live on a small tmpfs of the
// sandbox's own, mounted before the container starts and unmounted when it ends, so nothing of a
// secret is ever written to the store's filesystem (not even to be deleted).

import { chmod, chown, mkdir, writeFile } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { mountTmpfs, unmount } from './overlay.js';
import type { BindMount } from './oci-spec.js';

/** A file made from memory and bound read-only at `destination`. */
export interface MemoryFile {
  destination: string;
  data: Buffer;
  uid: number;
  gid: number;
  mode: number;
}

/** A Unix socket at `destination` whose connections are forwarded to the host socket `target`. */
export interface ForwardedSocket {
  destination: string;
  target: string;
  uid: number;
  gid: number;
  mode: number;
}

export interface MemoryArea {
  /** The tmpfs directory (the bundle directory when config.json must stay off disk). */
  dir: string;
  binds: BindMount[];
  close(): Promise<void>;
}

/** Mount the tmpfs in `dir` (made here) and put the files and sockets on it. */
export async function openMemoryArea(dir: string, files: readonly MemoryFile[], sockets: readonly ForwardedSocket[]): Promise<MemoryArea> {
  await mkdir(dir, { mode: 0o700 });
  const size = files.reduce((n, f) => n + f.data.length, 0) + 4 * 1024 * 1024;
  await mountTmpfs(dir, `mode=0711,size=${size},nosuid,nodev,noexec`);
  const servers: Server[] = [];
  const connections = new Set<Socket>();
  const close = async () => {
    // An agent connection left open must not hold the step: end them all.
    for (const c of connections) c.destroy();
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    await unmount(dir);
  };
  try {
    const binds: BindMount[] = [];
    for (const [i, f] of files.entries()) {
      const path = join(dir, `file-${i}`);
      await writeFile(path, f.data, { mode: 0o600 });
      await chown(path, f.uid, f.gid);
      await chmod(path, f.mode);
      binds.push({ source: path, destination: f.destination, readonly: true });
    }
    for (const [i, s] of sockets.entries()) {
      const path = join(dir, `socket-${i}`);
      // Half-open both ways: a client that has sent its request may still read the answer.
      const server = createServer({ allowHalfOpen: true }, (client) => {
        const agent = createConnection({ path: s.target, allowHalfOpen: true });
        for (const c of [client, agent]) {
          connections.add(c);
          c.on('close', () => connections.delete(c));
        }
        client.pipe(agent).pipe(client);
        const end = () => {
          client.destroy();
          agent.destroy();
        };
        client.on('error', end);
        agent.on('error', end);
      });
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(path, () => resolve());
      });
      await chown(path, s.uid, s.gid);
      await chmod(path, s.mode);
      binds.push({ source: path, destination: s.destination, readonly: false });
    }
    return { dir, binds, close };
  } catch (err) {
    await close().catch(() => undefined);
    throw err;
  }
}
