/**
 * RUN --mount end to end with the real runc (as root), for what the differential corpus cannot
 * show (run-mount-* there compare the images with docker build's): a cache that outlives builds,
 * a bind whose content decides the cache key, tmpfs size=, secrets (a random value searched for in
 * every byte Kiln wrote, its output and its errors), an SSH agent socket (in the image with its
 * mode and owner; a round trip through the forwarder from the host side, as the test base image
 * has no Unix socket client), and mount errors that name the line.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { openStore } from '../../src/store/store.js';
import { openMemoryArea } from '../../src/run/memory-area.js';
import { makeRootfs } from '../helpers/base-images.js';
import { ROOT, describeNeeding, tools } from '../helpers/requirements.js';
import { kiln, kilnProcess, tempDir, writeTree } from '../engine/kiln-helpers.js';

/** Every regular file below `dir` (symlinks not followed). */
function filesBelow(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...filesBelow(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

describeNeeding([ROOT, ...tools('runc', 'busybox')], 'RUN --mount', () => {
  let work: string;
  let store: string;

  beforeAll(async () => {
    work = tempDir('run-mounts');
    store = join(work, 'store');
    const baseCtx = join(work, 'base');
    mkdirSync(baseCtx);
    makeRootfs(join(baseCtx, 'rootfs'));
    writeFileSync(join(baseCtx, 'Dockerfile'), 'FROM scratch\nCOPY rootfs/ /\n');
    const r = await kiln(['build', '--store', store, '-q', '-t', 'mounts-base:1', baseCtx]);
    if (r.code !== 0) throw new Error(`base image: ${r.stderr}`);
  }, 60_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const context = (name: string, files: Record<string, string>) => writeTree(tempDir(`mounts-${name}`), files);
  const fileOf = async (ctx: string, path: string, extra: string[] = []) => {
    const out = join(work, `oci-${randomBytes(4).toString('hex')}`);
    const r = await kiln(['build', '--store', store, '-q', ...extra, '--output', `type=oci,dest=${out}`, '-t', 'mounts-out:1', ctx]);
    if (r.code !== 0) throw new Error(r.stderr);
    const bundle = `${out}-bundle`;
    const unpack = spawnSync('umoci', ['unpack', '--image', `${out}:1`, bundle], { encoding: 'utf8' });
    if (unpack.status !== 0) throw new Error(unpack.stderr);
    return readFileSync(join(bundle, 'rootfs', path), 'utf8');
  };

  it('a cache mount keeps what a RUN put there for the next build, and none of it reaches the image', async () => {
    const df = (n: number) => `FROM mounts-base:1\nENV RUN_NUMBER=${n}\nRUN --mount=type=cache,target=/root/.cache/app echo "$RUN_NUMBER" >> /root/.cache/app/runs && cat /root/.cache/app/runs > /seen\n`;
    expect(await fileOf(context('cache1', { Dockerfile: df(1) }), 'seen')).toBe('1\n');
    expect(await fileOf(context('cache2', { Dockerfile: df(2) }), 'seen')).toBe('1\n2\n');
    const ctx = context('cache3', { Dockerfile: `${df(3)}RUN ls -a /root/ > /root-listing\n` });
    expect(await fileOf(ctx, 'root-listing')).toBe('.\n..\n');
    // The cache lives in the store, named by its id's hash, with the id beside it.
    const ids = readdirSync(join(store, 'cache-mounts')).filter((n) => n.endsWith('.json')).map((n) => (JSON.parse(readFileSync(join(store, 'cache-mounts', n), 'utf8')) as { id: string }).id);
    expect(ids).toContain('/root/.cache/app');
  }, 120_000);

  it('a bind mount of the context is part of the cache key: changing the bound file runs the step again', async () => {
    const ctx = context('bindkey', {
      Dockerfile: 'FROM mounts-base:1\nRUN --mount=type=bind,source=package.json,target=/p.json cat /p.json && cp /p.json /installed\n',
      'package.json': '{"v":1}\n',
    });
    const first = await kiln(['build', '--store', store, '--progress', 'plain', ctx]);
    expect(first.stderr).toMatch(/\{"v":1\}/);
    const same = await kiln(['build', '--store', store, '--progress', 'plain', ctx]);
    expect(same.stderr).toMatch(/CACHED/);
    writeFileSync(join(ctx, 'package.json'), '{"v":2}\n');
    const changed = await kiln(['build', '--store', store, '--progress', 'plain', ctx]);
    expect(changed.stderr).toMatch(/\{"v":2\}/);
  }, 120_000);

  it('tmpfs size= limits the mount', async () => {
    const ctx = context('tmpfs', { Dockerfile: "FROM mounts-base:1\nRUN --mount=type=tmpfs,target=/t,size=1m df -k /t | tail -1 | awk '{ print $2 }' > /size\n" });
    expect(await fileOf(ctx, 'size')).toBe('1024\n');
  }, 60_000);

  it('a secret reaches the command as a file and a variable, and no byte Kiln wrote or printed holds it', async () => {
    const secret = `s3cr3t-${randomBytes(12).toString('hex')}`;
    const secretFile = join(work, 'token.txt');
    writeFileSync(secretFile, secret);
    const ctx = context('secret', {
      Dockerfile: [
        'FROM mounts-base:1',
        'RUN --mount=type=secret,id=token wc -c < /run/secrets/token > /file-length && stat -c "%a %u" /run/secrets/token > /file-mode && cat /run/secrets/token',
        'RUN --mount=type=secret,id=token,env=TOKEN,target=/etc/token,mode=0440,uid=1000 echo "variable: $TOKEN" && test -f /etc/token && stat -c "%a %u" /etc/token > /target-mode',
        'RUN --mount=type=secret,id=absent echo "an optional secret that was not given: $(ls /run/secrets 2>&1)"',
        '',
      ].join('\n'),
    });
    const out = join(work, 'secret-oci');
    const meta = join(work, 'secret-meta.json');
    const r = await kilnProcess(
      ['build', '--store', store, '--progress', 'plain', '--secret', `id=token,src=${secretFile}`, '--output', `type=oci,dest=${out}`, '--metadata-file', meta, '-t', 'mounts-secret:1', ctx],
    );
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^#\d+ \d+\.\d{3} \*\*\*\*$/m);
    expect(r.stderr).toMatch(/variable: \*\*\*\*/);
    expect(r.stderr).toMatch(/an optional secret that was not given: .*No such file or directory/);
    const bundle = join(work, 'secret-bundle');
    expect(spawnSync('umoci', ['unpack', '--image', `${out}:1`, bundle]).status).toBe(0);
    expect(readFileSync(join(bundle, 'rootfs/file-length'), 'utf8').trim()).toBe(String(secret.length));
    expect(readFileSync(join(bundle, 'rootfs/file-mode'), 'utf8')).toBe('400 0\n');
    expect(readFileSync(join(bundle, 'rootfs/target-mode'), 'utf8')).toBe('440 1000\n');
    expect(existsSync(join(bundle, 'rootfs/run/secrets'))).toBe(false);
    expect(existsSync(join(bundle, 'rootfs/etc/token'))).toBe(false);

    // The no-leak search: the store, the OCI output, the metadata file, the output, the runc state.
    const needle = Buffer.from(secret);
    const leaks = [...filesBelow(store), ...filesBelow(out), meta, ...filesBelow('/run/kiln')].filter((f) => readFileSync(f).includes(needle));
    expect(leaks).toEqual([]);
    expect(r.stdout + r.stderr).not.toContain(secret);

    // A failing step's error shows its last output: masked there too.
    const failing = context('secret-fail', { Dockerfile: 'FROM mounts-base:1\nRUN --mount=type=secret,id=token,env=T echo "leaking $T" && exit 7\n' });
    const f = await kiln(['build', '--store', store, '-q', '--secret', `id=token,src=${secretFile}`, failing]);
    expect(f.code).toBe(1);
    expect(f.stderr).toMatch(/exit code: 7/);
    expect(f.stderr).toMatch(/leaking \*\*\*\*/);
    expect(f.stderr).not.toContain(secret);
    expect(filesBelow(store).filter((p) => readFileSync(p).includes(needle))).toEqual([]);
  }, 120_000);

  it('a required secret that was not given fails the step with what to pass', async () => {
    const ctx = context('secret-required', { Dockerfile: 'FROM mounts-base:1\nRUN --mount=type=secret,id=npmrc,required=true cat /run/secrets/npmrc\n' });
    const r = await kiln(['build', '--store', store, '-q', ctx]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Dockerfile:2: secret npmrc: not found \(pass it with --secret id=npmrc,src=FILE or id=npmrc,env=VARIABLE\)/);
  }, 60_000);

  describe('an SSH agent socket', () => {
    let agent: Server;
    let socket: string;
    beforeAll(async () => {
      socket = join(work, 'agent.sock');
      // Stands in for ssh-agent: answers whatever it is sent, reversed, so a round trip is proven.
      agent = createServer((c) => c.on('data', (d: Buffer) => c.end(Buffer.from([...d].reverse()))));
      await new Promise<void>((r) => agent.listen(socket, r));
    });
    afterAll(async () => {
      await new Promise<void>((r) => agent.close(() => r()));
    });

    it('is forwarded at the default target with SSH_AUTH_SOCK set, with the mode and owner asked for', async () => {
      const ctx = context('ssh', {
        Dockerfile: [
          'FROM mounts-base:1',
          'RUN --mount=type=ssh echo "$SSH_AUTH_SOCK" > /sock-path && stat -c "%F %a %u" "$SSH_AUTH_SOCK" > /sock-stat',
          'RUN --mount=type=ssh,id=deploy,target=/run/agent,uid=1000,mode=0660 stat -c "%a %u" /run/agent > /target-stat',
          '',
        ].join('\n'),
      });
      const out = join(work, 'ssh-oci');
      const r = await kiln(['build', '--store', store, '-q', '--ssh', `default=${socket}`, '--ssh', `deploy=${socket}`, '--output', `type=oci,dest=${out}`, '-t', 'mounts-ssh:1', ctx]);
      expect(r.stderr).toBe('');
      const bundle = join(work, 'ssh-bundle');
      expect(spawnSync('umoci', ['unpack', '--image', `${out}:1`, bundle]).status).toBe(0);
      expect(readFileSync(join(bundle, 'rootfs/sock-path'), 'utf8')).toBe('/run/buildkit/ssh_agent.0\n');
      expect(readFileSync(join(bundle, 'rootfs/sock-stat'), 'utf8')).toBe('socket 600 0\n');
      expect(readFileSync(join(bundle, 'rootfs/target-stat'), 'utf8')).toBe('660 1000\n');
      expect(existsSync(join(bundle, 'rootfs/run/buildkit'))).toBe(false);
    }, 60_000);

    it('forwards a connection to the agent and back (the memory area, from the host side)', async () => {
      const dir = join(work, 'memory-area');
      const area = await openMemoryArea(dir, [], [{ destination: '/run/agent', target: socket, uid: 0, gid: 0, mode: 0o600 }]);
      try {
        expect(readFileSync('/proc/self/mountinfo', 'utf8')).toContain(`${dir} `);
        const reply = await new Promise<string>((resolve, reject) => {
          const c = createConnection(area.binds[0]!.source, () => c.end('ping'));
          let got = '';
          c.on('data', (d: Buffer) => (got += d.toString()));
          c.on('end', () => resolve(got));
          c.on('error', reject);
        });
        expect(reply).toBe('gnip');
      } finally {
        await area.close();
      }
      expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(`${dir} `);
    });

    it('--ssh refuses a path that is not a socket, and a missing SSH_AUTH_SOCK, with what to do', async () => {
      const ctx = context('ssh-bad', { Dockerfile: 'FROM mounts-base:1\nRUN --mount=type=ssh true\n' });
      const notSocket = await kiln(['build', '--store', store, '-q', '--ssh', `default=${join(work, 'base', 'Dockerfile')}`, ctx]);
      expect(notSocket.code).toBe(1);
      expect(notSocket.stderr).toMatch(/is not a socket; Kiln forwards SSH agent sockets, not key files/);
      const unset = await kilnProcess(['build', '--store', store, '-q', '--ssh', 'default', ctx], undefined, { SSH_AUTH_SOCK: '' });
      expect(unset.code).toBe(1);
      expect(unset.stderr).toMatch(/SSH_AUTH_SOCK is not set/);
    }, 60_000);
  });

  it('a mount the frontend refuses names the line and the mount', async () => {
    const cases: [string, RegExp][] = [
      ['--mount=type=cache,target=/c,colour=blue', /Dockerfile:2: --mount=type=cache,target=\/c,colour=blue: unexpected key 'colour' in 'colour=blue'/],
      ['--mount=type=bind', /Dockerfile:2: --mount type=bind: a target is required/],
      ['--mount=type=volume,target=/v', /unsupported mount type "volume"/],
      ['--mount=type=tmpfs,target=/t,uid=1', /uid not allowed for "tmpfs" type mounts/],
      ['--mount=type=bind,source=missing,target=/m', /RUN --mount failed: file not found in build context or excluded by \.dockerignore: "missing"/],
    ];
    for (const [flag, message] of cases) {
      const r = await kiln(['build', '--store', store, '-q', context('bad-mount', { Dockerfile: `FROM mounts-base:1\nRUN ${flag} true\n` })]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(message);
    }
  }, 60_000);

  it('leaves no sandbox, mount or memory area behind, and the store verifies', async () => {
    expect(readdirSync(join(store, 'sandboxes'))).toEqual([]);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(store);
    expect(statSync(join(store, 'cache-mounts')).mode & 0o777).toBe(0o700);
    expect((await (await openStore(store)).verify()).corrupt).toEqual([]);
  });
});
