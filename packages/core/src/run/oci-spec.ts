// The OCI runtime config (config.json) for one sandboxed process: the namespaces, capabilities,
// mounts, masked paths and device rules BuildKit's runc executor uses (containerd's defaults with
// BuildKit's changes: no /run tmpfs, no rlimits, new privileges allowed so sudo works).

import type { OciDevice } from './privileged.js';
import type { ProcessUser } from './user.js';

/** Every capability Linux has (a privileged RUN gets them all, as `docker run --privileged`). */
export const ALL_CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK',
  'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT', 'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE',
  'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

/** Docker's default capability set. */
export const DEFAULT_CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

const MASKED_PATHS = [
  '/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats',
  '/proc/sched_debug', '/sys/firmware', '/sys/devices/virtual/powercap', '/proc/scsi',
];
const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

export interface OciMount {
  destination: string;
  type: string;
  source: string;
  options: string[];
}

/** A host file or directory made visible inside the sandbox. */
export interface BindMount {
  source: string;
  destination: string;
  readonly: boolean;
}

export interface SandboxProcess {
  args: string[];
  env: string[];
  /** Absolute, inside the rootfs. */
  cwd: string;
  user: ProcessUser;
  /** A pseudo-terminal on the process's stdio (`kiln run -t`). */
  terminal?: boolean;
}

export interface SpecOptions {
  process: SandboxProcess;
  hostname: string;
  /** 'host' shares the host's network namespace; 'none' gets its own with only `lo`. */
  network: 'host' | 'none';
  /** Bind mounts after the standard ones (resolv.conf, hosts, RUN --mount targets). */
  binds: BindMount[];
  /** Rootfs path, relative to the bundle or absolute. */
  rootfs: string;
  /** tmpfs mounts after the binds; size in bytes (0: the kernel's default, half the memory). */
  tmpfs?: { destination: string; size: number }[];
  /** Set when runc runs in a user namespace (rootless): what the namespace cannot mount. */
  userNamespace?: { ttyGroupMapped: boolean };
  /**
   * `RUN --security=insecure` (granted): these capabilities (all the host allows), these host devices, all devices
   * allowed, nothing masked and /sys writable, as BuildKit's insecure mode.
   */
  privileged?: { devices: OciDevice[]; capabilities: string[] };
}

/**
 * The standard filesystems of a container, in mount order. In a user namespace (rootless), sysfs
 * cannot be mounted while the network namespace is the host's, so the host's /sys is bound
 * read-only instead, and devpts gets the tty group only when gid 5 exists there (as runc's
 * rootless spec and BuildKit's rootless mode do).
 */
function systemMounts(userNamespace?: SpecOptions['userNamespace'], privileged = false): OciMount[] {
  const ttyGroup = !userNamespace || userNamespace.ttyGroupMapped ? ['gid=5'] : [];
  const sysAccess = privileged ? 'rw' : 'ro';
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', ...ttyGroup] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    userNamespace
      ? { destination: '/sys', type: 'none', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', sysAccess] }
      : { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', sysAccess] },
  ];
}

export function ociSpec(o: SpecOptions): Record<string, unknown> {
  const caps = o.privileged ? o.privileged.capabilities : DEFAULT_CAPABILITIES;
  const namespaces = [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, ...(o.network === 'none' ? [{ type: 'network' }] : [])];
  const binds: OciMount[] = o.binds.map((b) => ({
    destination: b.destination,
    type: 'bind',
    source: b.source,
    options: ['rbind', 'nosuid', 'nodev', ...(b.readonly ? ['ro'] : ['rw'])],
  }));
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: !!o.process.terminal,
      user: { uid: o.process.user.uid, gid: o.process.user.gid, additionalGids: o.process.user.additionalGids },
      args: o.process.args,
      env: o.process.env,
      cwd: o.process.cwd,
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      noNewPrivileges: false,
    },
    root: { path: o.rootfs, readonly: false },
    hostname: o.hostname,
    mounts: [
      ...systemMounts(o.userNamespace, !!o.privileged),
      ...binds,
      ...(o.tmpfs ?? []).map((t) => ({
        destination: t.destination,
        type: 'tmpfs',
        source: 'tmpfs',
        options: ['nosuid', 'nodev', ...(t.size > 0 ? [`size=${t.size}`] : [])],
      })),
    ],
    linux: {
      namespaces,
      maskedPaths: o.privileged ? [] : MASKED_PATHS,
      readonlyPaths: o.privileged ? [] : READONLY_PATHS,
      ...(o.privileged ? { devices: o.privileged.devices } : {}),
      resources: { devices: [{ allow: !!o.privileged, access: 'rwm' }] },
    },
  };
}
