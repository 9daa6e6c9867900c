/**
 * RUN as a user who is not root but has passwordless sudo, as jobs run on GitHub's hosted
 * runners: Kiln runs only the RUN machinery through `sudo -n` (the elevated helper), the store
 * stays the user's, secrets and cache mounts work, and nothing is left behind. The test (as root)
 * makes a user and a sudoers rule for it, and removes both at the end.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeRootfs } from '../helpers/base-images.js';
import { ROOT, describeNeeding, tools } from '../helpers/requirements.js';
import { kilnBin, tempDir } from '../engine/kiln-helpers.js';
import { makeSudoUser, type SudoUser } from '../helpers/sudo-user.js';

describeNeeding([ROOT, ...tools('sudo', 'runc', 'busybox', 'umoci')], 'RUN through sudo, as a user', () => {
  let work: string;
  let user: SudoUser;
  let uid: number;
  let gid: number;

  /** kiln as the test user, with the environment a CI job would have (HOME, PATH, a secret variable). */
  const asUser = (args: string[], env: Record<string, string> = {}) =>
    spawnSync('setpriv', ['--reuid', String(uid), '--regid', String(gid), '--init-groups', process.execPath, kilnBin, ...args], {
      encoding: 'utf8',
      cwd: work,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: join(work, 'home'), KILN_OFFLINE: '1', ...env },
    });

  beforeAll(() => {
    user = makeSudoUser('kiln-sudo-test');
    ({ uid, gid } = user);
    work = tempDir('run-sudo');
    chmodSync(work, 0o755);
    mkdirSync(join(work, 'home'));
    const base = join(work, 'base');
    mkdirSync(base);
    makeRootfs(join(base, 'rootfs'));
    writeFileSync(join(base, 'Dockerfile'), 'FROM scratch\nCOPY rootfs/ /\n');
    writeFileSync(join(work, 'token'), 'sudo-secret-value-7f3a');
    const app = join(work, 'app');
    mkdirSync(app);
    writeFileSync(
      join(app, 'Dockerfile'),
      [
        'FROM sudo-base:1',
        'RUN echo "built by $(id -u)" > /built && echo "step output"',
        'RUN --mount=type=cache,target=/var/cache/app,uid=1000,mode=0700 stat -c "%u %a" /var/cache/app > /cache-owner && date > /var/cache/app/stamp',
        'RUN --mount=type=secret,id=token wc -c < /run/secrets/token > /secret-length && cat /run/secrets/token',
        '',
      ].join('\n'),
    );
    spawnSync('chown', ['-R', `${uid}:${gid}`, work]);
  });

  afterAll(() => {
    user?.remove();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('builds RUN steps, keeps the store the user\'s, and leaves nothing behind', () => {
    const store = join(work, 'store');
    const base = asUser(['build', '--store', store, '-q', '-t', 'sudo-base:1', join(work, 'base')]);
    expect(base.stderr).toBe('');
    const out = join(work, 'oci');
    const r = asUser(['build', '--store', store, '--progress', 'plain', '--secret', `id=token,src=${join(work, 'token')}`, '--output', `type=oci,dest=${out}`, '-t', 'sudo-app:1', join(work, 'app')]);
    expect(r.stderr).toMatch(/^#\d+ \d+\.\d{3} step output$/m);
    expect(r.stderr).toMatch(/^#\d+ \d+\.\d{3} \*\*\*\*$/m);
    expect(r.status).toBe(0);

    // What the steps wrote: as root inside, the cache owned as asked.
    const bundle = join(work, 'bundle');
    expect(spawnSync('umoci', ['unpack', '--image', `${out}:1`, bundle]).status).toBe(0);
    expect(readFileSync(join(bundle, 'rootfs/built'), 'utf8')).toBe('built by 0\n');
    expect(readFileSync(join(bundle, 'rootfs/cache-owner'), 'utf8')).toBe('1000 700\n');
    expect(readFileSync(join(bundle, 'rootfs/secret-length'), 'utf8').trim()).toBe('22');

    // The store is the user's: every blob and every folder Kiln manages, but the root-only ones.
    for (const name of readdirSync(store).filter((n) => n !== 'unpacked' && n !== 'sandboxes')) {
      expect([name, statSync(join(store, name)).uid]).toEqual([name, uid]);
    }
    for (const blob of readdirSync(join(store, 'blobs', 'sha256'))) expect(statSync(join(store, 'blobs', 'sha256', blob)).uid).toBe(uid);
    expect(readdirSync(join(store, 'sandboxes'))).toEqual([]);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(store);

    // A second build hits the cache without sudo doing anything.
    const again = asUser(['build', '--store', store, '--progress', 'plain', '--secret', `id=token,src=${join(work, 'token')}`, '-t', 'sudo-app:1', join(work, 'app')]);
    expect(again.status).toBe(0);
    expect(again.stderr).not.toMatch(/^#\d+ \d+\.\d{3} step output$/m);
    expect(again.stderr.match(/CACHED/g)).toHaveLength(4);
  }, 120_000);

  it('Ctrl-C during a RUN through sudo stops the command and leaves no mount, process or sandbox', async () => {
    const store = join(work, 'store');
    const ctx = join(work, 'sleepy');
    mkdirSync(ctx);
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM sudo-base:1\nRUN echo started && sleep 31.5\n');
    spawnSync('chown', ['-R', `${uid}:${gid}`, ctx]);
    const child = spawn('setpriv', ['--reuid', String(uid), '--regid', String(gid), '--init-groups', process.execPath, kilnBin, 'build', '--store', store, '--progress', 'plain', ctx], {
      cwd: work,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: join(work, 'home'), KILN_OFFLINE: '1' },
    });
    let stderr = '';
    const started = new Promise<void>((resolve) => child.stderr.on('data', (b: Buffer) => ((stderr += b.toString()), / started$/m.test(stderr) && resolve())));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    await started;
    // setpriv execs node: its pid is kiln's.
    process.kill(child.pid!, 'SIGINT');
    expect(await exited).toBe(130);
    const sleeping = readdirSync('/proc').filter((p) => /^\d+$/.test(p) && (() => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('sleep\u000031.5');
      } catch {
        return false;
      }
    })());
    expect(sleeping).toEqual([]);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(store);
    expect(readdirSync(join(store, 'sandboxes'))).toEqual([]);
  }, 60_000);

  it('without a sudo rule, says both ways out', () => {
    user.revokeSudo();
    try {
      const store = join(work, 'store-nosudo');
      const base = asUser(['build', '--store', store, '-q', '-t', 'sudo-base:1', join(work, 'base')]);
      expect(base.status).toBe(0);
      const r = asUser(['build', '--store', store, '-q', join(work, 'app')]);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/RUN needs root .*run kiln as root .* or give this user passwordless sudo/);
    } finally {
      user.grantSudo();
    }
  }, 60_000);
});
