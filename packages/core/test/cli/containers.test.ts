/**
 * `kiln run`, `ps`, `rm` and `commit` through the real binary: a foreground container on the RUN
 * sandbox with docker run's options and exit code, Ctrl-C, containers kept without --rm, and an
 * image committed from one that docker loads and runs.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeBaseImages, type BaseImages } from '../helpers/base-images.js';
import { describeWithDocker, dockerLoad, useDockerd } from '../helpers/dockerd.js';
import { repoRoot } from '../helpers/conformance.js';
import { ROOT, tools } from '../helpers/requirements.js';
import { kilnBin, kilnProcess, tempDir } from '../engine/kiln-helpers.js';

describeWithDocker(
  'kiln run, ps, rm and commit',
  () => {
    const env = useDockerd();
    let work: string;
    let store: string;
    let base: BaseImages;
    /** The real binary; the store right after the verb (kiln run's options end at the image). */
    const kiln = (verb: string, ...args: string[]) => kilnProcess([verb, '--store', store, ...args], work, { KILN_OFFLINE: '1' });

    beforeAll(async () => {
      work = tempDir('containers');
      store = join(work, 'store');
      base = await makeBaseImages(env.dockerd, join(work, 'base'));
      const loaded = await kiln('load', '-q', '-i', base.busyboxArchive);
      if (loaded.code !== 0) throw new Error(loaded.stderr);
    }, 120_000);

    it('runs a command in the foreground: its output, its exit code, docker run\'s options', async () => {
      const hello = await kiln('run', '--rm', base.busybox, 'echo', 'hello');
      expect([hello.code, hello.stdout, hello.stderr]).toEqual([0, 'hello\n', '']);
      expect((await kiln('run', '--rm', base.busybox, 'sh', '-c', 'exit 3')).code).toBe(3);
      const data = join(work, 'data');
      mkdirSync(data);
      writeFileSync(join(data, 'f'), 'from the host');
      writeFileSync(join(work, 'vars'), '# a comment\nB=2\n');
      const opts = await kiln('run', '--rm', '-e', 'A=1', '--env-file', join(work, 'vars'), '-w', '/tmp', '-u', '1000', '-v', `${data}:/data:ro`, base.busybox, 'sh', '-c', 'echo $A $B $(pwd) $(id -u) "$(cat /data/f)"; touch /data/g');
      expect(opts.stdout).toBe('1 2 /tmp 1000 from the host\n');
      expect(opts.stderr).toMatch(/Read-only file system/);
      // The image's CMD when none is given (busybox's is sh, with no stdin: it ends at once).
      expect((await kiln('run', '--rm', base.busybox)).code).toBe(0);
      expect((await kiln('ps', '-a', '-q')).stdout).toBe('');
      const detached = await kiln('run', '-d', base.busybox, 'true');
      expect([detached.code, detached.stderr]).toEqual([1, 'error: detached containers (-d) are not supported: kiln run stays in the foreground\n']);
      const help = await kiln('run', '--help');
      expect(help.stdout).toMatch(/Example:\n {2}kiln run --rm app:1 node --version/);
    }, 60_000);

    it('keeps a container without --rm; commit makes an image of its changes that docker runs', async () => {
      const r = await kiln('run', '--name', 'smoke', base.busybox, 'sh', '-c', 'echo made > /made && exit 0');
      expect(r.code).toBe(0);
      const ps = await kiln('ps', '-a', '--format', '{{.Names}}|{{.Image}}|{{.Status}}');
      expect(ps.stdout).toMatch(/^smoke\|kiln-test\/busybox:latest\|Exited \(0\) .* ago\n$/);
      const again = await kiln('run', '--name', 'smoke', base.busybox, 'true');
      expect(again.stderr).toMatch(/The container name "smoke" is already in use/);

      const committed = await kiln('commit', '-m', 'add made', '-a', 'Kiln Test', '-c', 'CMD ["cat", "/made"]', '-c', 'ENV MADE=yes', 'smoke', 'committed:1');
      expect(committed.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
      const history = await kiln('history', '--format', '{{.CreatedBy}}|{{.Comment}}', 'committed:1');
      expect(history.stdout.split('\n')[0]).toBe('sh -c echo made > /made && exit 0|add made');
      const inspect = JSON.parse((await kiln('inspect', 'committed:1')).stdout)[0];
      expect(inspect.Config.Cmd).toEqual(['cat', '/made']);
      expect(inspect.Config.Env).toContain('MADE=yes');
      expect(inspect.Author).toBe('Kiln Test');
      expect((await kiln('run', '--rm', 'committed:1')).stdout).toBe('made\n');

      // docker runs it.
      const archive = join(work, 'committed.tar');
      expect((await kiln('save', '-o', archive, 'committed:1')).code).toBe(0);
      await dockerLoad(env.dockerd, archive);
      expect((await env.dockerd.docker(['run', '--rm', '--network=none', 'committed:1'])).stdout).toBe('made\n');

      // rmi refuses the image a kept container ran; rm removes the container.
      const inUse = await kiln('rmi', base.busybox);
      expect([inUse.code, inUse.stderr]).toEqual([1, expect.stringMatching(/image is being used by stopped container [0-9a-f]{12} \(kiln rm smoke\)/)]);
      expect((await kiln('rm', 'smoke')).stdout).toBe('smoke\n');
      expect((await kiln('ps', '-a', '-q')).stdout).toBe('');
    }, 90_000);

    // The program in the example is an x86-64 binary (scripts/make-example-binary.mjs).
    (process.arch === 'x64' ? it : it.skip)("the README's example image runs under kiln run and docker run", async () => {
      expect(spawnSync(process.execPath, [join(repoRoot, 'scripts/make-example-binary.mjs'), '--check']).status).toBe(0);
      expect((await kiln('build', '-q', '-t', 'hello-example:1', join(repoRoot, 'examples/hello'))).code).toBe(0);
      const ours = await kiln('run', '--rm', 'hello-example:1');
      expect([ours.code, ours.stdout]).toEqual([0, 'hello from kiln\n']);
      const archive = join(work, 'hello.tar');
      expect((await kiln('save', '-o', archive, 'hello-example:1')).code).toBe(0);
      await dockerLoad(env.dockerd, archive);
      expect((await env.dockerd.docker(['run', '--rm', '--network=none', 'hello-example:1'])).stdout).toBe('hello from kiln\n');
    }, 60_000);

    it('-i gives the container this stdin; -t a terminal (under a pseudo-terminal), and refuses without one', async () => {
      const child = spawn(process.execPath, [kilnBin, 'run', '--store', store, '-i', '--rm', base.busybox, 'sh', '-c', 'cat; echo done'], { env: { ...process.env, KILN_OFFLINE: '1' } });
      let stdout = '';
      child.stdout.on('data', (b: Buffer) => (stdout += b));
      child.stdin.end('from stdin\n');
      expect(await new Promise((resolve) => child.on('close', resolve))).toBe(0);
      expect(stdout).toBe('from stdin\ndone\n');

      const command = [process.execPath, kilnBin, 'run', '--store', store, '-it', '--rm', base.busybox, 'sh', '-c', "'tty; test -t 0 && echo stdin is a terminal'"].join(' ');
      const tty = spawnSync('script', ['-qefc', command, '/dev/null'], { encoding: 'utf8', env: { ...process.env, KILN_OFFLINE: '1' } });
      expect(tty.status).toBe(0);
      expect(tty.stdout).toMatch(/\/dev\/pts\/\d+\r\nstdin is a terminal\r\n/);

      const noTerminal = await kiln('run', '-t', '--rm', base.busybox, 'true');
      expect([noTerminal.code, noTerminal.stderr]).toEqual([1, 'error: the input device is not a TTY: drop -t, or run kiln run -t in a terminal\n']);
    }, 60_000);

    it('Ctrl-C stops the container: exit 130 and no process left', async () => {
      const child = spawn(process.execPath, [kilnBin, 'run', '--store', store, '--rm', base.busybox, 'sh', '-c', 'echo started; sleep 29.5'], { env: { ...process.env, KILN_OFFLINE: '1' } });
      await new Promise<void>((resolve) => child.stdout.on('data', (b: Buffer) => b.toString().includes('started') && resolve()));
      const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
      child.kill('SIGINT');
      expect(await exited).toBe(130);
      const sleeping = readdirSync('/proc').filter((p) => {
        try {
          return /^\d+$/.test(p) && readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('sleep\u000029.5');
        } catch {
          return false;
        }
      });
      expect(sleeping).toEqual([]);
      expect(spawnSync('grep', ['-c', store, '/proc/self/mountinfo'], { encoding: 'utf8' }).stdout.trim()).toBe('0');
    }, 60_000);
  },
  [ROOT, ...tools('runc', 'busybox')],
);
