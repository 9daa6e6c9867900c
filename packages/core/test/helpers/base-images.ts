/**
 * Base images made locally (nothing can be pulled in the test environment).
 *
 * `kiln-test/busybox:latest`: Debian's static /bin/busybox plus applet symlinks, /etc/passwd and
 * /etc/group with root (0:0), app (1000:1000) and nobody/nogroup (65534), /root (0700),
 * /home/app (0755, 1000:1000) and /tmp (1777). The rootfs tar is deterministic (GNU tar,
 * --numeric-owner --sort=name --mtime=@0), so its layer digest is the same on every run; the image
 * config is not (`docker import` stamps the current time).
 *
 * `kiln-test/debian:bookworm` (makeDebianImage): a `debootstrap --variant=minbase` Debian 12
 * rootfs, made once per machine at set-up time from the machine's apt mirror by
 * scripts/make-test-debian-rootfs.sh (which scripts/install-test-deps.sh, and so `npm test`, runs
 * first) and cached as a deterministic tar; tests never download it. The helper writes a
 * docker-archive around that tar with a fixed config (created 2020-01-01, Debian's official PATH,
 * CMD ["bash"]), so the test dockerd (`docker load`) and Kiln (`kiln load -i`) get the very same
 * image, with the same ID on every run. Tests that use it ask for DEBIAN_ROOTFS (requirements.ts):
 * a missing tar fails them, or skips them with KILN_SKIP_MISSING_TOOLS=1 (not with CI=true).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, copyFileSync, createReadStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { withLockFile, type Dockerd } from './dockerd.js';
import { capability, INSTALL_SCRIPT, type Requirement } from './requirements.js';

export const BUSYBOX_IMAGE = 'kiln-test/busybox:latest';

export interface BaseImages {
  /** Name of the imported image in the test dockerd: kiln-test/busybox:latest */
  busybox: string;
  /** Its image ID in the test dockerd (sha256:...). */
  busyboxId: string;
  /** `docker save` output (docker-archive) of that image: for `kiln load -i` or `FROM docker-archive://...`. */
  busyboxArchive: string;
  /** The deterministic rootfs tar that was imported. */
  busyboxRootfsTar: string;
  /** The rootfs directory the tar was made from. */
  busyboxRootfs: string;
}

const APPLETS = [
  'sh', 'ash', 'ls', 'cat', 'echo', 'env', 'id', 'whoami', 'pwd', 'true', 'false', 'test', '[', 'printf',
  'mkdir', 'rmdir', 'touch', 'cp', 'mv', 'rm', 'ln', 'chmod', 'chown', 'chgrp', 'stat', 'readlink',
  'find', 'grep', 'sed', 'awk', 'head', 'tail', 'wc', 'sort', 'uniq', 'cut', 'tr', 'xargs', 'tee',
  'sleep', 'date', 'hostname', 'uname', 'tar', 'gzip', 'gunzip', 'sha256sum', 'md5sum', 'du', 'df',
  'ps', 'kill', 'which', 'basename', 'dirname', 'realpath', 'mktemp', 'expr', 'seq', 'diff', 'vi',
];

const PASSWD = [
  'root:x:0:0:root:/root:/bin/sh',
  'app:x:1000:1000:app:/home/app:/bin/sh',
  'nobody:x:65534:65534:nobody:/nonexistent:/bin/false',
  '',
].join('\n');

const GROUP = ['root:x:0:', 'app:x:1000:', 'nogroup:x:65534:', ''].join('\n');

export function makeRootfs(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  const d = (p: string, mode: number, uid = 0, gid = 0): void => {
    mkdirSync(join(dir, p), { recursive: true });
    chmodSync(join(dir, p), mode);
    chownSync(join(dir, p), uid, gid);
  };
  d('.', 0o755);
  d('bin', 0o755);
  d('etc', 0o755);
  d('root', 0o700);
  d('home', 0o755);
  d('home/app', 0o755, 1000, 1000);
  d('tmp', 0o1777);
  d('usr', 0o755);
  d('usr/bin', 0o755);
  d('var', 0o755);
  copyFileSync('/bin/busybox', join(dir, 'bin/busybox'));
  chmodSync(join(dir, 'bin/busybox'), 0o755);
  for (const a of APPLETS) symlinkSync('busybox', join(dir, 'bin', a));
  writeFileSync(join(dir, 'etc/passwd'), PASSWD);
  writeFileSync(join(dir, 'etc/group'), GROUP);
  chmodSync(join(dir, 'etc/passwd'), 0o644);
  chmodSync(join(dir, 'etc/group'), 0o644);
}

function gnuTar(args: string[]): void {
  const r = spawnSync('tar', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tar ${args.join(' ')} failed: ${r.stderr || r.error}`);
}

/**
 * Makes the base images in `workDir` and in the test dockerd. Idempotent: an existing rootfs tar,
 * imported image and saved archive (matching the image ID) are reused.
 */
export async function makeBaseImages(dockerd: Dockerd, workDir: string): Promise<BaseImages> {
  mkdirSync(workDir, { recursive: true });
  const rootfs = join(workDir, 'busybox-rootfs');
  const rootfsTar = join(workDir, 'busybox-rootfs.tar');
  const archive = join(workDir, 'busybox.tar');
  const archiveIdFile = join(workDir, 'busybox.tar.id');

  if (!existsSync(rootfsTar)) {
    makeRootfs(rootfs);
    const tmp = `${rootfsTar}.${process.pid}.tmp`;
    gnuTar(['-C', rootfs, '--numeric-owner', '--sort=name', '--mtime=@0', '--format=gnu', '-cf', tmp, '.']);
    renameSync(tmp, rootfsTar);
  }

  // Under a lock: test files sharing one dockerd must all get the same image (`docker import`
  // stamps the time, so two imports would give two IDs, and the tag would move under a build).
  const id = await withLockFile(join(dockerd.root, 'base-images.lock'), async () => {
    const have = (await dockerd.docker(['image', 'inspect', '--format', '{{.Id}}', BUSYBOX_IMAGE])).stdout.trim();
    if (have) return have;
    await dockerd.dockerOk(['import', '--change', 'CMD ["sh"]', rootfsTar, BUSYBOX_IMAGE]);
    return (await dockerd.dockerOk(['image', 'inspect', '--format', '{{.Id}}', BUSYBOX_IMAGE])).trim();
  });

  const savedId = existsSync(archiveIdFile) ? readFileSync(archiveIdFile, 'utf8').trim() : '';
  if (!existsSync(archive) || savedId !== id) {
    const tmp = `${archive}.${process.pid}.tmp`;
    await dockerd.dockerOk(['save', '-o', tmp, BUSYBOX_IMAGE]);
    renameSync(tmp, archive);
    writeFileSync(archiveIdFile, id + '\n');
  }

  return { busybox: BUSYBOX_IMAGE, busyboxId: id, busyboxArchive: archive, busyboxRootfsTar: rootfsTar, busyboxRootfs: rootfs };
}

// ---------------------------------------------------------------------------------------------
// kiln-test/debian:bookworm

export const DEBIAN_IMAGE = 'kiln-test/debian:bookworm';

/** The cached rootfs tar that scripts/make-test-debian-rootfs.sh makes (same environment variables). */
export const DEBIAN_ROOTFS_TAR =
  process.env['KILN_TEST_DEBIAN_ROOTFS'] ?? join(process.env['KILN_TEST_CACHE_DIR'] ?? '/var/cache/kiln-test', 'debian-bookworm-minbase.tar');

/** The Debian 12 rootfs tar as a test requirement. */
export const DEBIAN_ROOTFS: Requirement = capability(
  'debian-rootfs',
  `the Debian 12 test rootfs ${DEBIAN_ROOTFS_TAR}`,
  () => (existsSync(DEBIAN_ROOTFS_TAR) ? undefined : 'not made yet'),
  `run ${INSTALL_SCRIPT} as root (it installs debootstrap, then scripts/make-test-debian-rootfs.sh makes the rootfs once from the apt mirror, about 2 minutes)`,
);

/** What the image's config says; fixed, so its ID is the same on every run and machine. */
const DEBIAN_CREATED = '2020-01-01T00:00:00Z';
const DEBIAN_ENV = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'];

export interface DebianImage {
  /** kiln-test/debian:bookworm */
  name: string;
  /** Its image ID (sha256 of the config), the same in the test dockerd and in a Kiln store. */
  id: string;
  /** docker-archive holding it: for `kiln load -i` (the test dockerd has loaded it already). */
  archive: string;
  /** The cached rootfs tar, which is the image's one layer, byte for byte. */
  rootfsTar: string;
}

function goArch(): string {
  const map: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
  return map[process.arch] ?? process.arch;
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/**
 * Writes the docker-archive of kiln-test/debian:bookworm into `workDir` (reused when there) and
 * loads it into the test dockerd unless the daemon has that image already. Throws when the rootfs
 * tar is missing: declare DEBIAN_ROOTFS in the tests that call this.
 */
export async function makeDebianImage(dockerd: Dockerd, workDir: string): Promise<DebianImage> {
  const image = await writeDebianArchive(workDir);
  await withLockFile(join(dockerd.root, 'base-images.lock'), async () => {
    const have = (await dockerd.docker(['image', 'inspect', '--format', '{{.Id}}', DEBIAN_IMAGE])).stdout.trim();
    if (have === image.id) return;
    await dockerd.dockerOk(['load', '-i', image.archive], { timeoutMs: 300_000 });
    const now = (await dockerd.dockerOk(['image', 'inspect', '--format', '{{.Id}}', DEBIAN_IMAGE])).trim();
    if (now !== image.id) throw new Error(`docker load of ${image.archive} gave ${DEBIAN_IMAGE} the ID ${now}, not ${image.id}`);
  });
  return image;
}

/** The docker-archive of kiln-test/debian:bookworm in `workDir` (reused when there), for `kiln load -i`; no daemon needed. */
export async function writeDebianArchive(workDir: string): Promise<DebianImage> {
  if (!existsSync(DEBIAN_ROOTFS_TAR)) {
    throw new Error(`no ${DEBIAN_ROOTFS_TAR}: ${DEBIAN_ROOTFS.remedy}`);
  }
  mkdirSync(workDir, { recursive: true });
  const diffId = await sha256File(DEBIAN_ROOTFS_TAR);
  const config = Buffer.from(
    JSON.stringify({
      architecture: goArch(),
      os: 'linux',
      created: DEBIAN_CREATED,
      config: { Env: DEBIAN_ENV, Cmd: ['bash'] },
      rootfs: { type: 'layers', diff_ids: [`sha256:${diffId}`] },
      history: [{ created: DEBIAN_CREATED, created_by: 'debootstrap --variant=minbase bookworm (scripts/make-test-debian-rootfs.sh)' }],
    }),
  );
  const configHex = createHash('sha256').update(config).digest('hex');
  const id = `sha256:${configHex}`;
  const [repo, tag] = DEBIAN_IMAGE.split(':') as [string, string];
  const archive = join(workDir, `debian-bookworm-${configHex.slice(0, 12)}.tar`);

  if (!existsSync(archive)) {
    const staging = join(workDir, `debian-archive.${process.pid}`);
    rmSync(staging, { recursive: true, force: true });
    mkdirSync(staging, { recursive: true });
    writeFileSync(join(staging, `${configHex}.json`), config);
    writeFileSync(
      join(staging, 'manifest.json'),
      JSON.stringify([{ Config: `${configHex}.json`, RepoTags: [DEBIAN_IMAGE], Layers: [`${diffId}/layer.tar`] }]),
    );
    writeFileSync(join(staging, 'repositories'), JSON.stringify({ [repo]: { [tag]: diffId } }));
    // The layer goes in as it is in the cache (no copy): renamed to <diffID>/layer.tar on the way.
    const tmp = `${archive}.${process.pid}.tmp`;
    gnuTar([
      '--numeric-owner', '--sort=name', '--mtime=@0', '--format=gnu', '-cf', tmp,
      '-C', staging, `${configHex}.json`, 'manifest.json', 'repositories',
      '-C', dirname(DEBIAN_ROOTFS_TAR), `--transform=s|^${basename(DEBIAN_ROOTFS_TAR).replace(/[.]/g, '\\.')}$|${diffId}/layer.tar|`,
      basename(DEBIAN_ROOTFS_TAR),
    ]);
    renameSync(tmp, archive);
    rmSync(staging, { recursive: true, force: true });
  }
  return { name: DEBIAN_IMAGE, id, archive, rootfsTar: DEBIAN_ROOTFS_TAR };
}
