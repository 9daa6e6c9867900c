// Whether this machine can run a platform's binaries: its own architecture, or another one the
// kernel hands to an emulator (binfmt_misc, as qemu-user-static registers). Kiln sets up no
// emulation itself; RUN for a platform the machine cannot run fails before anything starts.

import { readFileSync } from 'node:fs';
import { KilnError } from '../errors.js';
import { formatPlatform, hostPlatform } from '../oci/image.js';
import type { Platform } from '../oci/types.js';

/** binfmt_misc entry names qemu-user-static registers, by OCI architecture. */
const QEMU_NAMES: Record<string, string> = {
  amd64: 'x86_64', '386': 'i386', arm64: 'aarch64', arm: 'arm', ppc64le: 'ppc64le', s390x: 's390x', riscv64: 'riscv64', mips64le: 'mips64el',
};

function binfmtEnabled(arch: string): boolean {
  const name = QEMU_NAMES[arch];
  if (!name) return false;
  try {
    return readFileSync(`/proc/sys/fs/binfmt_misc/qemu-${name}`, 'utf8').startsWith('enabled');
  } catch {
    return false;
  }
}

/** Throws a KilnError that says what to do when RUN cannot execute `platform`'s binaries here. */
export function checkRunnablePlatform(platform: Platform, host: Platform = hostPlatform()): void {
  if (platform.os !== host.os) {
    throw new KilnError(`RUN cannot execute ${formatPlatform(platform)} programs on a ${formatPlatform(host)} machine`);
  }
  if (platform.architecture === host.architecture || binfmtEnabled(platform.architecture)) return;
  throw new KilnError(
    `RUN for ${formatPlatform(platform)} needs to execute ${platform.architecture} programs, and this ${formatPlatform(host)} machine ` +
      `cannot: register an emulator with binfmt_misc (e.g. \`apt-get install qemu-user-static\`), or build this platform on a ${platform.architecture} machine`,
  );
}
