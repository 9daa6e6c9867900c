// The OCI runtime config (config.json) for one sandboxed process: the namespaces, capabilities,
// mounts, masked paths and device rules BuildKit's runc executor uses (containerd's defaults with
// BuildKit's changes: no /run tmpfs, no rlimits, new privileges allowed so sudo works).

import type { ProcessUser } from './user.js';

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
}

/**
 * The standard filesystems of a container, in mount order. In a user namespace (rootless), sysfs
 * cannot be mounted while the network namespace is the host's, so the host's /sys is bound
 * read-only instead, and devpts gets the tty group only when gid 5 exists there (as runc's
 * rootless spec and BuildKit's rootless mode do).
 */
function systemMounts(userNamespace?: SpecOptions['userNamespace']): OciMount[] {
  const ttyGroup = !userNamespace || userNamespace.ttyGroupMapped ? ['gid=5'] : [];
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', ...ttyGroup] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    userNamespace
      ? { destination: '/sys', type: 'none', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] }
      : { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
  ];
}

export function ociSpec(o: SpecOptions): Record<string, unknown> {
  const caps = DEFAULT_CAPABILITIES;
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
      terminal: false,
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
      ...systemMounts(o.userNamespace),
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
      maskedPaths: MASKED_PATHS,
      readonlyPaths: READONLY_PATHS,
      resources: { devices: [{ allow: false, access: 'rwm' }] },
    },
  };
}
