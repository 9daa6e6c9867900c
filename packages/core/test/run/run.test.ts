/**
 * RUN end to end, with the real runc and overlayfs (as root): what a command writes becomes a
 * layer; output streams under its step; failures name the line and the exit code; the cache skips
 * an unchanged RUN; two fresh stores give the same digest; Ctrl-C and kill -9 leave no mount,
 * container or directory behind; runc runs the result from an OCI layout umoci unpacks.
 * Differential checks against docker build are in engine/differential.test.ts (corpus run-*).
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { openStore } from '../../src/store/store.js';
import { makeRootfs } from '../helpers/base-images.js';
import { ROOT, describeNeeding, toolPath, tools } from '../helpers/requirements.js';
import { kiln, kilnBin, kilnProcess, tempDir, writeTree } from '../engine/kiln-helpers.js';

/** Mount points below `dir` right now. */
function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((p) => p.startsWith(dir));
}

/** Processes whose command line mentions `needle`. */
function processesWith(needle: string): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(needle)) out.push(`${pid}: ${cmd}`);
    } catch {
      // gone
    }
  }
  return out;
}

describeNeeding([ROOT, ...tools('runc', 'busybox', 'umoci', 'getcap', 'setcap')], 'RUN', () => {
  let work: string;
  let store: string;
  let baseCtx: string;

  beforeAll(async () => {
    work = tempDir('run');
    store = join(work, 'store');
    baseCtx = join(work, 'base');
    mkdirSync(baseCtx);
    makeRootfs(join(baseCtx, 'rootfs'));
    writeFileSync(join(baseCtx, 'Dockerfile'), 'FROM scratch\nCOPY rootfs/ /\nCMD ["sh"]\n');
    const r = await kiln(['build', '--store', store, '-q', '-t', 'run-base:1', baseCtx]);
    if (r.code !== 0) throw new Error(`base image: ${r.stderr}`);
  }, 60_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  function context(name: string, dockerfile: string, files: Record<string, string> = {}): string {
    return writeTree(tempDir(`run-${name}`), { Dockerfile: dockerfile, ...files });
  }

  it('writes what the command made as a layer, streams its output, and hits the cache next time', async () => {
    const ctx = context(
      'basic',
      [
        'FROM run-base:1',
        'ARG WHO=kiln',
        'ENV GREETING=hello',
        'RUN echo "$GREETING from $WHO" > /greeting && echo "to stdout" && echo "to stderr" >&2',
        'USER app',
        'RUN id > /tmp/id && echo "$HOME" > /tmp/home',
        '',
      ].join('\n'),
    );
    const first = await kiln(['build', '--store', store, '--progress', 'plain', '-t', 'run-basic:1', '--output', `type=oci,dest=${join(work, 'basic-oci')}`, ctx]);
    expect(first.code).toBe(0);
    expect(first.stderr).toMatch(/^#\d+ \d+\.\d{3} to stdout$/m);
    expect(first.stderr).toMatch(/^#\d+ \d+\.\d{3} to stderr$/m);

    // umoci unpacks the OCI layout and runc runs it: the files the RUNs wrote are there.
    const bundle = join(work, 'basic-bundle');
    const unpack = spawnSync('umoci', ['unpack', '--image', `${join(work, 'basic-oci')}:1`, bundle], { encoding: 'utf8' });
    expect(unpack.stderr).not.toMatch(/error/i);
    expect(readFileSync(join(bundle, 'rootfs/greeting'), 'utf8')).toBe('hello from kiln\n');
    expect(readFileSync(join(bundle, 'rootfs/tmp/id'), 'utf8')).toMatch(/^uid=1000\(app\) gid=1000\(app\)/);
    expect(readFileSync(join(bundle, 'rootfs/tmp/home'), 'utf8')).toBe('/home/app\n');
    const config = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as { process: { args: string[]; terminal: boolean } };
    config.process.args = ['cat', '/greeting'];
    config.process.terminal = false;
    writeFileSync(join(bundle, 'config.json'), JSON.stringify(config));
    const run = spawnSync('runc', ['--root', join(work, 'runc-state'), 'run', '--bundle', bundle, `kiln-test-${process.pid}`], { encoding: 'utf8' });
    expect(run.stdout).toBe('hello from kiln\n');

    const again = await kiln(['build', '--store', store, '--progress', 'plain', '-t', 'run-basic:1', ctx]);
    expect(again.code).toBe(0);
    expect(again.stderr).not.toMatch(/^#\d+ \d+\.\d{3} to stdout$/m);
    expect(again.stderr.match(/CACHED/g)?.length).toBeGreaterThanOrEqual(6);
  }, 60_000);

  it('a #! heredoc script runs under a non-root USER (mounted at /dev/pipes, readable by all)', async () => {
    const ctx = context('pipes', 'FROM run-base:1\nUSER app\nRUN <<EOF\n#!/bin/sh\necho "script as $(id -u)" > /tmp/pipes\nEOF\n');
    const out = join(work, 'pipes-oci');
    const r = await kiln(['build', '--store', store, '-q', '-t', 'run-pipes:latest', '--output', `type=oci,dest=${out}`, ctx]);
    expect(r.stderr).toBe('');
    const bundle = join(work, 'pipes-bundle');
    spawnSync('umoci', ['unpack', '--image', `${out}:latest`, bundle]);
    expect(readFileSync(join(bundle, 'rootfs/tmp/pipes'), 'utf8')).toBe('script as 1000\n');
  }, 60_000);

  it('a change above a RUN runs it again', async () => {
    const df = (v: string) => `FROM run-base:1\nENV V=${v}\nRUN echo "$V" > /v && echo ran\n`;
    const one = await kiln(['build', '--store', store, '--progress', 'plain', context('above1', df('1'))]);
    const two = await kiln(['build', '--store', store, '--progress', 'plain', context('above2', df('2'))]);
    expect(one.stderr).toMatch(/ ran$/m);
    expect(two.stderr).toMatch(/ ran$/m);
  }, 60_000);

  it('a failing RUN names its line, the command and the exit code, with its last output', async () => {
    const ctx = context('fail', 'FROM run-base:1\nRUN echo about to fail && exit 3\n');
    const r = await kiln(['build', '--store', store, '-q', ctx]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: Dockerfile:2: process "\/bin\/sh -c echo about to fail && exit 3" did not complete successfully: exit code: 3/);
    expect(r.stderr).toMatch(/about to fail/);
    expect(readdirSync(join(store, 'sandboxes'))).toEqual([]);
    expect(mountsUnder(store)).toEqual([]);
  }, 60_000);

  it('a file name that is not UTF-8 fails the step with what to do, and leaves nothing behind', async () => {
    const r = await kiln(['build', '--store', store, '-q', context('utf8', 'FROM run-base:1\nRUN touch "/tmp/a$(printf \'\\377\')"\n')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: Dockerfile:2: a file name in \/tmp is not valid UTF-8 .*rename it in the step/);
    expect(mountsUnder(store)).toEqual([]);
    expect(readdirSync(join(store, 'sandboxes'))).toEqual([]);
  }, 60_000);

  it('the same RUN Dockerfile built in two fresh stores gives the same manifest digest', async () => {
    const ctx = context('repro', 'FROM run-base:1\nRUN mkdir -p /out && echo same > /out/f && ln -s f /out/l && chmod 4755 /out/f\n');
    const digests: string[] = [];
    for (const name of ['repro-a', 'repro-b']) {
      const s = join(work, name);
      const base = await kiln(['build', '--store', s, '-q', '-t', 'run-base:1', baseCtx]);
      expect(base.code).toBe(0);
      const meta = join(work, `${name}.json`);
      const r = await kiln(['build', '--store', s, '-q', '--metadata-file', meta, ctx]);
      expect(r.code).toBe(0);
      digests.push((JSON.parse(readFileSync(meta, 'utf8')) as Record<string, string>)['containerimage.digest']!);
    }
    expect(digests[0]).toMatch(/^sha256:/);
    expect(digests[1]).toBe(digests[0]);
  }, 60_000);

  it('--network=none gives the command only a loopback interface', async () => {
    const ctx = context('net', 'FROM run-base:1\nRUN --network=none ls /sys/class/net > /none\nRUN ls /sys/class/net > /host\n');
    const out = join(work, 'net-oci');
    const r = await kiln(['build', '--store', store, '-q', '-t', 'run-net:latest', '--output', `type=oci,dest=${out}`, ctx]);
    expect(r.code).toBe(0);
    const bundle = join(work, 'net-bundle');
    spawnSync('umoci', ['unpack', '--image', `${out}:latest`, bundle]);
    expect(readFileSync(join(bundle, 'rootfs/none'), 'utf8')).toBe('lo\n');
    expect(readFileSync(join(bundle, 'rootfs/host'), 'utf8').split('\n').filter(Boolean).length).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it('Ctrl-C during a RUN kills the command and leaves no mount, process or sandbox', async () => {
    // A sleep no other test runs: its command line is how the test finds the container's process.
    const sleep = `sleep ${7000 + (process.pid % 1000)}`;
    const ctx = context('sigint', `FROM run-base:1\nRUN echo started && ${sleep}\n`);
    const child = spawn(process.execPath, [kilnBin, 'build', '--store', store, '--progress', 'plain', ctx]);
    const closed = new Promise((resolve) => child.on('close', (c, sig) => resolve(sig ?? c)));
    try {
      let stderr = '';
      await new Promise<void>((resolve) => child.stderr.on('data', (d: Buffer) => ((stderr += d), / started$/m.test(stderr) && resolve())));
      for (let i = 0; i < 50 && processesWith(sleep).length === 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(processesWith(sleep).length).toBeGreaterThan(0);
      child.kill('SIGTERM');
      expect(await closed).toBe(143);
    } finally {
      child.kill('SIGKILL');
    }
    expect(processesWith(sleep)).toEqual([]);
    expect(mountsUnder(store)).toEqual([]);
    expect(readdirSync(join(store, 'sandboxes'))).toEqual([]);
  }, 60_000);

  it('after a kill -9 during a RUN, the next build removes what was left', async () => {
    const sleep = `sleep ${8000 + (process.pid % 1000)}`;
    const ctx = context('kill9', `FROM run-base:1\nRUN echo started && ${sleep}\n`);
    const child = spawn(process.execPath, [kilnBin, 'build', '--store', store, '--progress', 'plain', ctx]);
    let stderr = '';
    await new Promise<void>((resolve) => child.stderr.on('data', (d: Buffer) => ((stderr += d), / started$/m.test(stderr) && resolve())));
    child.kill('SIGKILL');
    await new Promise((resolve) => child.on('close', resolve));
    expect(mountsUnder(join(store, 'sandboxes')).length).toBeGreaterThan(0);

    const next = await kiln(['build', '--store', store, '-q', context('after-kill', 'FROM run-base:1\nRUN true\n')]);
    expect(next.code).toBe(0);
    expect(processesWith(sleep)).toEqual([]);
    expect(mountsUnder(store)).toEqual([]);
    expect(readdirSync(join(store, 'sandboxes'))).toEqual([]);
  }, 60_000);

  it('unpacking the image for RUN never follows its absolute symlinks onto the host', async () => {
    // An image's `/var/run -> /run` names the host's /run when seen from outside the container.
    const host = join(work, 'host-dir');
    mkdirSync(host);
    writeFileSync(join(host, '.wh.canary'), 'a file of the host\n');
    const ctx = context('escape', 'FROM run-base:1\nCOPY tree/ /var/\nRUN test -L /var/hostrun\n');
    mkdirSync(join(ctx, 'tree'));
    spawnSync('ln', ['-s', host, join(ctx, 'tree/hostrun')]);
    const r = await kiln(['build', '--store', store, '-q', ctx]);
    expect(r.stderr).toBe('');
    expect(readdirSync(host)).toEqual(['.wh.canary']);
  }, 60_000);

  it('RUN --security=insecure needs --allow security.insecure; then the command gets every capability and the host\'s devices', async () => {
    const ctx = context(
      'insecure',
      'FROM run-base:1\nRUN --security=insecure grep CapEff /proc/self/status > /caps && mkdir /t && busybox mount -t tmpfs none /t && busybox umount /t && ls /dev > /devs\n',
    );
    const refused = await kiln(['build', '--store', store, '-q', ctx]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/RUN --security=insecure needs the security.insecure entitlement, .*pass --allow security.insecure/);
    const out = join(work, 'insecure-oci');
    const r = await kiln(['build', '--store', store, '-q', '-t', 'run-insecure:latest', '--allow', 'security.insecure', '--output', `type=oci,dest=${out}`, ctx]);
    expect(r.stderr).toBe('');
    const bundle = join(work, 'insecure-bundle');
    spawnSync('umoci', ['unpack', '--image', `${out}:latest`, bundle]);
    // Every capability this machine lets a process have (its bounding set).
    const bounding = /CapBnd:\s*(\w+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1];
    expect(readFileSync(join(bundle, 'rootfs/caps'), 'utf8')).toBe(`CapEff:\t${bounding}\n`);
    const hostDevices = readdirSync('/dev', { withFileTypes: true }).filter((d) => d.isBlockDevice()).map((d) => d.name);
    const devs = readFileSync(join(bundle, 'rootfs/devs'), 'utf8').split('\n');
    for (const name of hostDevices) expect(devs).toContain(name);
  }, 60_000);

  it('without overlayfs, RUN uses a copy of the filesystem, says so once, and makes the same layer', async () => {
    const dockerfile = 'FROM run-base:1\nRUN rm -rf /home/app && echo new > /etc/new && chmod 600 /etc/group && ln -s /etc/new /link\nRUN touch /tmp/second\n';
    const viaOverlay = join(work, 'overlay.json');
    const viaCopy = join(work, 'copy.json');
    const a = await kiln(['build', '--store', store, '-q', '--no-cache', '--metadata-file', viaOverlay, context('ovl', dockerfile)]);
    expect(a.code).toBe(0);
    const b = await kilnProcess(['build', '--store', store, '--progress', 'plain', '--no-cache', '--metadata-file', viaCopy, context('copy', dockerfile)], undefined, {
      KILN_RUN_COPY_ROOTFS: '1',
    });
    expect(b.code).toBe(0);
    expect(b.stderr.match(/RUN steps use a copy of the image's filesystem/g)).toHaveLength(1);
    const digest = (f: string) => (JSON.parse(readFileSync(f, 'utf8')) as Record<string, string>)['containerimage.digest'];
    expect(digest(viaCopy)).toBe(digest(viaOverlay));
    expect(readdirSync(join(store, 'sandboxes'))).toEqual([]);
  }, 60_000);

  it('keeps file capabilities that a RUN sets (setcap), also on a file of the image below', async () => {
    // The host's setcap and the libraries it loads, copied into a context so the image can run it.
    const files = join(work, 'setcap-tree');
    const copyIn = (path: string) => {
      mkdirSync(join(files, dirname(path)), { recursive: true });
      copyFileSync(path, join(files, path));
      chmodSync(join(files, path), 0o755);
    };
    const setcap = toolPath('setcap')!;
    copyIn(setcap);
    const ldd = spawnSync('ldd', [setcap], { encoding: 'utf8' }).stdout;
    for (const lib of ldd.matchAll(/(\/\S+) \(0x/g)) copyIn(lib[1]!);
    const ctx = context('caps', `FROM run-base:1\nCOPY tree/ /\nRUN cp /bin/busybox /usr/bin/pinger && ${setcap} cap_net_raw+ep /usr/bin/pinger\nRUN ${setcap} cap_net_bind_service+ep /bin/busybox\n`);
    cpSync(files, join(ctx, 'tree'), { recursive: true });
    const out = join(work, 'caps-oci');
    const r = await kiln(['build', '--store', store, '-q', '-t', 'run-caps:1', '--output', `type=oci,dest=${out}`, ctx]);
    expect(r.stderr).toBe('');
    // umoci applies the layers' security.capability records; getcap reads them back.
    const bundle = join(work, 'caps-bundle');
    const unpack = spawnSync('umoci', ['unpack', '--image', `${out}:1`, bundle], { encoding: 'utf8' });
    expect(unpack.status).toBe(0);
    const getcap = (p: string) => spawnSync(toolPath('getcap')!, [join(bundle, 'rootfs', p)], { encoding: 'utf8' }).stdout.trim().split(' ').slice(1).join(' ');
    expect(getcap('usr/bin/pinger')).toBe('cap_net_raw=ep');
    expect(getcap('bin/busybox')).toBe('cap_net_bind_service=ep');
  }, 60_000);

  it('the store has no sandbox left and verifies', async () => {
    expect(existsSync(join(store, 'sandboxes')) ? readdirSync(join(store, 'sandboxes')) : []).toEqual([]);
    expect((await (await openStore(store)).verify()).corrupt).toEqual([]);
  });
});
