/**
 * RUN as a user who is not root: with passwordless sudo, as jobs run on GitHub's hosted runners
 * (Kiln runs only the RUN machinery through `sudo -n`), and without sudo, rootless, in a user
 * namespace with the user's subordinate ids. Either way the store stays the user's, USER, chown,
 * secrets and cache mounts work, and nothing is left behind. The test (as root) makes the users,
 * their sudoers rule or subordinate ids, and removes them at the end.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeRootfs } from '../helpers/base-images.js';
import { ROOT, describeNeeding, tools } from '../helpers/requirements.js';
import { kilnBin, tempDir } from '../engine/kiln-helpers.js';
import { makeTestUser, type TestUser, type TestUserOptions } from '../helpers/test-user.js';

const MODES: [string, string, TestUserOptions][] = [
  ['through sudo', 'kiln-sudo-test', { sudo: true }],
  ['rootless, in a user namespace', 'kiln-rootless-test', { sudo: false, subordinateIds: 300000 }],
];

describeNeeding([ROOT, ...tools('sudo', 'runc', 'busybox', 'umoci', 'unshare', 'newuidmap')], 'RUN as a user', () => {
  describe.each(MODES)('%s', (mode, userName, userOptions) => {
    let work: string;
    let user: TestUser;
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
      user = makeTestUser(userName, userOptions);
      ({ uid, gid } = user);
      work = tempDir(userName);
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
          'RUN mkdir -p /home/app/data && chown 1000:1000 /home/app/data',
          'USER app',
          'RUN id -u > /home/app/data/who',
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
      expect(readFileSync(join(bundle, 'rootfs/home/app/data/who'), 'utf8')).toBe('1000\n');
      expect(statSync(join(bundle, 'rootfs/home/app/data/who')).uid).toBe(1000);
      expect(statSync(join(bundle, 'rootfs/home/app/data')).uid).toBe(1000);

      // The store is the user's: every blob and every folder Kiln manages, but the root-only ones.
      for (const name of readdirSync(store).filter((n) => n !== 'unpacked' && n !== 'sandboxes')) {
        expect([name, statSync(join(store, name)).uid]).toEqual([name, uid]);
      }
      for (const blob of readdirSync(join(store, 'blobs', 'sha256'))) expect(statSync(join(store, 'blobs', 'sha256', blob)).uid).toBe(uid);
      expect(readdirSync(join(store, 'sandboxes'))).toEqual([]);
      expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(store);

      // A second build hits the cache without the helper doing anything.
      const again = asUser(['build', '--store', store, '--progress', 'plain', '--secret', `id=token,src=${join(work, 'token')}`, '-t', 'sudo-app:1', join(work, 'app')]);
      expect(again.status).toBe(0);
      expect(again.stderr).not.toMatch(/^#\d+ \d+\.\d{3} step output$/m);
      expect(again.stderr.match(/CACHED/g)).toHaveLength(7);
    }, 120_000);

    it(`kiln run -i ${mode}: rootless, the container reads this stdin; through sudo, a message says to run kiln as root`, () => {
      const r = spawnSync('setpriv', ['--reuid', String(uid), '--regid', String(gid), '--init-groups', process.execPath, kilnBin, 'run', '--store', join(work, 'store'), '-i', '--rm', 'sudo-base:1', 'cat'], {
        encoding: 'utf8',
        cwd: work,
        input: 'given on stdin\n',
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: join(work, 'home'), KILN_OFFLINE: '1' },
      });
      if (userOptions.sudo) {
        expect([r.status, r.stderr]).toEqual([1, expect.stringMatching(/kiln run -i and -t cannot go through sudo .*sudo kiln run -it/)]);
      } else {
        expect([r.status, r.stdout]).toEqual([0, 'given on stdin\n']);
      }
    }, 60_000);

    it(`Ctrl-C during a RUN ${mode} stops the command and leaves no mount, process or sandbox`, async () => {
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
  });

  describe('rootless without subordinate ids, or without user namespaces', () => {
    let work: string;
    let user: TestUser;
    const asUser = (args: string[]) =>
      spawnSync('setpriv', ['--reuid', String(user.uid), '--regid', String(user.gid), '--init-groups', process.execPath, kilnBin, ...args], {
        encoding: 'utf8',
        cwd: work,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: work, KILN_OFFLINE: '1' },
      });

    beforeAll(() => {
      user = makeTestUser('kiln-single-id-test', { sudo: false });
      work = tempDir('single-id');
      chmodSync(work, 0o755);
      makeRootfs(join(work, 'base/rootfs'));
      writeFileSync(join(work, 'base/Dockerfile'), 'FROM scratch\nCOPY rootfs/ /\n');
      mkdirSync(join(work, 'root-step'));
      writeFileSync(join(work, 'root-step/Dockerfile'), 'FROM single-base:1\nRUN id -u > /who\n');
      mkdirSync(join(work, 'user-step'));
      writeFileSync(join(work, 'user-step/Dockerfile'), 'FROM single-base:1\nUSER app\nRUN id -u\n');
      spawnSync('chown', ['-R', `${user.uid}:${user.gid}`, work]);
      expect(asUser(['build', '--store', join(work, 'store'), '-q', '-t', 'single-base:1', join(work, 'base')]).status).toBe(0);
    });

    afterAll(() => {
      user?.remove();
      if (work) rmSync(work, { recursive: true, force: true });
    });

    it('maps only the user: root steps run, with a warning that says how to map the rest; another USER fails clearly', () => {
      const store = join(work, 'store');
      const root = asUser(['build', '--store', store, '--progress', 'plain', join(work, 'root-step')]);
      expect(root.stderr).toMatch(/rootless RUN maps only kiln-single-id-test .* no subordinate ids .*usermod --add-subuids/);
      expect(root.status).toBe(0);
      const other = asUser(['build', '--store', store, '--progress', 'plain', join(work, 'user-step')]);
      expect(other.status).toBe(1);
      expect(other.stderr).toMatch(/USER app needs uid 1000 and gid 1000, which rootless RUN cannot map here \(only ids 0 exist\)/);
    }, 60_000);

    it('a context directory the user may not read is named in a plain error, not an internal one', () => {
      const ctx = join(work, 'locked-context');
      mkdirSync(join(ctx, 'private'), { recursive: true });
      writeFileSync(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY . /\n');
      chmodSync(join(ctx, 'private'), 0o700);
      const r = asUser(['build', '--store', join(work, 'store'), '-q', ctx]);
      expect(r.status).toBe(1);
      expect(r.stderr).toBe(`error: permission denied: scandir ${join(ctx, 'private')}: give this user access to it, or run kiln as its owner\n`);
    });

    it('with neither sudo nor user namespaces, says both ways out', () => {
      // As Ubuntu 24.04's AppArmor does for unprivileged users: no user namespace may be made. The
      // user gets a user namespace of its own whose limit of nested namespaces is 0 (set while the
      // capabilities are still there, then dropped), where it is its own uid and sudo is not root's.
      // Made by this (root) process: inside, root's files are the user's (and the user's are nobody's).
      const store = join(work, 'store-no-userns');
      const baseContext = join(work, 'base-no-userns');
      mkdirSync(store);
      mkdirSync(baseContext);
      writeFileSync(join(baseContext, 'Dockerfile'), 'FROM scratch\nCOPY Dockerfile /\n');
      const inside = (args: string[]) =>
        spawnSync(
          'unshare',
          [
            `--map-user=${user.uid}`, `--map-group=${user.gid}`, '--keep-caps', 'sh', '-c',
            'echo 0 > /proc/sys/user/max_user_namespaces && exec setpriv --inh-caps=-all --ambient-caps=-all --bounding-set=-all "$@"', 'sh',
            process.execPath, kilnBin, ...args,
          ],
          { encoding: 'utf8', cwd: work, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: work, KILN_OFFLINE: '1' } },
        );
      const base = inside(['build', '--store', store, '-q', '-t', 'single-base:1', baseContext]);
      expect(base.stderr).toBe('');
      const r = inside(['build', '--store', store, '-q', join(work, 'root-step')]);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/RUN needs root .*neither passwordless sudo nor user namespaces.*run kiln as root .* or give this user passwordless sudo/);
    }, 60_000);
  });
});
