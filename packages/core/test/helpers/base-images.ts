/**
 * Base images made locally (nothing can be pulled in the test environment).
 *
 * `kiln-test/busybox:latest`: Debian's static /bin/busybox plus applet symlinks, /etc/passwd and
 * /etc/group with root (0:0), app (1000:1000) and nobody/nogroup (65534), /root (0700),
 * /home/app (0755, 1000:1000) and /tmp (1777). The rootfs tar is deterministic (GNU tar,
 * --numeric-owner --sort=name --mtime=@0), so its layer digest is the same on every run; the image
 * config is not (`docker import` stamps the current time).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withLockFile, type Dockerd } from './dockerd.js';

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

function makeRootfs(dir: string): void {
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
