// What a privileged RUN (`--security=insecure`) gets from the host, as BuildKit gives it:
// - every capability this process may have (its bounding set: asking runc for more fails);
// - the host's device nodes (containerd's HostDevices): every character and block device under
//   /dev, listed in the OCI config so runc makes them in the container's own /dev (mknod as root,
//   a bind mount in a user namespace). The host's /dev itself is never mounted in: runc
//   rearranges /dev (ptmx, fd links).

import { lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ALL_CAPABILITIES } from './oci-spec.js';

/** The capabilities of ALL_CAPABILITIES (numbered in order) that this process's bounding set has. */
export async function boundingCapabilities(): Promise<string[]> {
  const status = await readFile('/proc/self/status', 'utf8').catch(() => '');
  const hex = /^CapBnd:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  if (!hex) return [...ALL_CAPABILITIES];
  const mask = BigInt(`0x${hex}`);
  return ALL_CAPABILITIES.filter((_, bit) => (mask >> BigInt(bit)) & 1n);
}

export interface OciDevice {
  path: string;
  type: 'c' | 'b';
  major: number;
  minor: number;
  fileMode: number;
  uid: number;
  gid: number;
}

/** Directories of /dev that the container gets its own of, or that belong to other tools. */
const SKIPPED = new Set(['pts', 'shm', 'fd', 'mqueue', '.lxc', '.lxd-mounts', '.udev']);

/** glibc's major()/minor() of a dev_t. */
const major = (rdev: number) => Number(((BigInt(rdev) >> 8n) & 0xfffn) | ((BigInt(rdev) >> 32n) & ~0xfffn));
const minor = (rdev: number) => Number((BigInt(rdev) & 0xffn) | ((BigInt(rdev) >> 12n) & ~0xffn));

export async function hostDevices(dir = '/dev'): Promise<OciDevice[]> {
  const out: OciDevice[] = [];
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return out;
  }
  for (const name of names.sort()) {
    const path = join(dir, name);
    const st = await lstat(path).catch(() => undefined);
    if (!st) continue;
    if (st.isDirectory()) {
      if (!SKIPPED.has(name)) out.push(...(await hostDevices(path)));
      continue;
    }
    if (path === '/dev/console' || !(st.isCharacterDevice() || st.isBlockDevice())) continue;
    out.push({ path, type: st.isCharacterDevice() ? 'c' : 'b', major: major(st.rdev), minor: minor(st.rdev), fileMode: st.mode & 0o7777, uid: st.uid, gid: st.gid });
  }
  return out;
}
