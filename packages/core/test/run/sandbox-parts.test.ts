// The pure parts of the RUN sandbox: user resolution (BuildKit's rules), resolv.conf and hosts,
// the OCI config, chain IDs, the RUN step's argv, environment and history text.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostsFile, resolvConf } from '../../src/run/network-files.js';
import { DEFAULT_CAPABILITIES, ociSpec } from '../../src/run/oci-spec.js';
import { chainIds } from '../../src/oci/digest.js';
import { resolveProcessUser } from '../../src/run/user.js';
import { requireLinux } from '../../src/run/sandbox.js';
import { runCommand, runEnv, runHistory } from '../../src/engine/steps/run.js';
import { ArgScope } from '../../src/engine/scope.js';
import type { Instruction } from '../../src/dockerfile/instructions.js';

const passwd = ['root:x:0:0:root:/root:/bin/sh', 'app:x:1000:1000:app:/home/app:/bin/sh', 'web:x:33:33::/var/www:/bin/sh', ''].join('\n');
const group = ['root:x:0:', 'app:x:1000:', 'wheel:x:10:app,web', 'audio:x:29:app', 'www-data:x:33:', ''].join('\n');
const files: Record<string, string> = { '/etc/passwd': passwd, '/etc/group': group };
const read = async (p: string) => (files[p] === undefined ? undefined : Buffer.from(files[p]!));

describe('resolveProcessUser (BuildKit GetUser rules)', () => {
  it.each([
    ['', { uid: 0, gid: 0, additionalGids: [0] }],
    ['root', { uid: 0, gid: 0, additionalGids: [0] }],
    ['app', { uid: 1000, gid: 1000, additionalGids: [1000, 10, 29] }],
    ['1000', { uid: 1000, gid: 1000, additionalGids: [1000, 10, 29] }],
    ['4242', { uid: 4242, gid: 0, additionalGids: [0] }],
    ['4242:4243', { uid: 4242, gid: 4243, additionalGids: [4243] }],
    ['app:www-data', { uid: 1000, gid: 33, additionalGids: [33] }],
    ['app:77', { uid: 1000, gid: 77, additionalGids: [77] }],
  ])('%j', async (spec, expected) => {
    expect(await resolveProcessUser(spec, read)).toEqual(expected);
  });

  it('names an unknown user or group', async () => {
    await expect(resolveProcessUser('ghost', read)).rejects.toThrow(/unable to find user ghost/);
    await expect(resolveProcessUser('app:ghosts', read)).rejects.toThrow(/unable to find group ghosts/);
  });

  it('needs no files for numeric ids', async () => {
    expect(await resolveProcessUser('5', async () => undefined)).toEqual({ uid: 5, gid: 0, additionalGids: [0] });
  });
});

describe('resolv.conf and hosts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-resolv-'));
  const file = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };

  it('keeps the host file for the host network', async () => {
    const f = file('a', 'nameserver 127.0.0.53\nsearch corp\n');
    expect(await resolvConf('host', f)).toBe('nameserver 127.0.0.53\nsearch corp\n');
  });

  it('drops loopback resolvers in a network namespace, falling back to public ones', async () => {
    const f = file('b', '# comment\nnameserver 127.0.0.1\nsearch a b\noptions ndots:2\n');
    expect(await resolvConf('none', f)).toBe(
      'nameserver 8.8.8.8\nnameserver 8.8.4.4\nnameserver 2001:4860:4860::8888\nnameserver 2001:4860:4860::8844\nsearch a b\noptions ndots:2\n',
    );
    const g = file('c', 'nameserver 10.0.0.2\nnameserver 127.0.0.1\n');
    expect(await resolvConf('none', g)).toBe('nameserver 10.0.0.2\n');
  });

  it('writes the sandbox hosts file', () => {
    expect(hostsFile()).toBe('127.0.0.1\tlocalhost buildkitsandbox\n::1\tlocalhost ip6-localhost ip6-loopback\n');
  });
});

describe('OCI config', () => {
  const base = { process: { args: ['sh'], env: ['PATH=/bin'], cwd: '/', user: { uid: 0, gid: 0, additionalGids: [0] } }, hostname: 'h', rootfs: 'rootfs', binds: [] };

  it('has Docker\'s capabilities, no new privileges off, and no network namespace on the host network', () => {
    const spec = ociSpec({ ...base, network: 'host' }) as { process: { capabilities: { bounding: string[] }; noNewPrivileges: boolean }; linux: { namespaces: { type: string }[] } };
    expect(spec.process.capabilities.bounding).toEqual(DEFAULT_CAPABILITIES);
    expect(spec.process.noNewPrivileges).toBe(false);
    expect(spec.linux.namespaces.map((n) => n.type)).toEqual(['pid', 'ipc', 'uts', 'mount']);
  });

  it('gets its own network namespace with --network=none', () => {
    const spec = ociSpec({ ...base, network: 'none' }) as { linux: { namespaces: { type: string }[] } };
    expect(spec.linux.namespaces.map((n) => n.type)).toContain('network');
  });
});

describe('chain IDs (OCI image spec)', () => {
  it('chains each diffID onto its parent', () => {
    const a = 'sha256:' + 'a'.repeat(64);
    const b = 'sha256:' + 'b'.repeat(64);
    const ids = chainIds([a, b]);
    expect(ids[0]).toBe(a);
    // sha256("sha256:aaa... sha256:bbb...")
    expect(ids[1]).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(ids[1]).not.toBe(b);
  });
});

describe('RUN argv, environment and history', () => {
  type Run = Extract<Instruction, { kind: 'RUN' }>;
  const run = (over: Partial<Run>): Run => ({
    kind: 'RUN', line: 1, endLine: 1, original: 'RUN', command: [], prependShell: true, files: [], mounts: [], ...over,
  });

  it('shell form goes through SHELL; exec form stays as written', () => {
    expect(runCommand(run({ command: ['echo hi'] }), undefined).args).toEqual(['/bin/sh', '-c', 'echo hi']);
    expect(runCommand(run({ command: ['echo hi'] }), ['/bin/bash', '-eo', 'pipefail', '-c']).args).toEqual(['/bin/bash', '-eo', 'pipefail', '-c', 'echo hi']);
    expect(runCommand(run({ command: ['ls', '-l'], prependShell: false }), undefined).args).toEqual(['ls', '-l']);
  });

  it('heredocs: the body is the command, a #! body a script, others go back to the shell', () => {
    expect(runCommand(run({ command: ['<<EOF'], files: [{ name: 'EOF', data: 'echo a\necho b\n', expand: true, chomp: false }] }), undefined).args)
      .toEqual(['/bin/sh', '-c', 'echo a\necho b\n']);
    expect(runCommand(run({ command: ['<<-EOF'], files: [{ name: 'EOF', data: '\techo a\n', expand: true, chomp: true }] }), undefined).args)
      .toEqual(['/bin/sh', '-c', 'echo a\n']);
    const script = runCommand(run({ command: ['<<EOF'], files: [{ name: 'EOF', data: '#!/bin/sh\necho a\n', expand: true, chomp: false }] }), undefined);
    expect(script.args).toEqual(['/bin/sh', '-c', '/dev/pipes/EOF']);
    expect(script.script).toEqual({ name: 'EOF', data: '#!/bin/sh\necho a\n' });
    expect(runCommand(run({ command: ['python3 <<EOF'], files: [{ name: 'EOF', data: 'print(1)\n', expand: true, chomp: false }] }), undefined).args)
      .toEqual(['/bin/sh', '-c', 'python3 <<EOF\nprint(1)\nEOF']);
  });

  it('the environment is the stage variables in order, then proxy args, with a default PATH', () => {
    const scope = new ArgScope(new Map(), new Set());
    const stage = { scope, vars: new Map([['A', '1'], ['B', '2']]), cmdSet: false };
    expect(runEnv(stage, { http_proxy: 'http://p:3128', OTHER: 'x' })).toEqual([
      'A=1', 'B=2', 'HTTP_PROXY=http://p:3128', 'http_proxy=http://p:3128', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    ]);
  });

  it('history names the stage ARGs with their current values, as BuildKit', () => {
    const scope = new ArgScope(new Map(), new Set());
    scope.declare('foo', 'bar');
    scope.declare('bar', '123');
    scope.declare('foo', 'bar2');
    scope.declare('empty', undefined);
    const stage = { scope, vars: new Map([['foo', 'bar2'], ['bar', 'env-wins']]), cmdSet: false };
    expect(runHistory(['/bin/sh', '-c', 'ls'], stage)).toBe('RUN |3 foo=bar2 bar=env-wins empty= /bin/sh -c ls');
    const none = { scope: new ArgScope(new Map(), new Set()), vars: new Map<string, string>(), cmdSet: false };
    expect(runHistory(['ls'], none)).toBe('RUN ls');
  });
});

describe('where RUN can run', () => {
  it('says what to do on macOS and Windows', () => {
    expect(() => requireLinux('darwin')).toThrow(/RUN needs Linux .* and this is darwin: build this image on Linux \(CI, a Linux VM or WSL 2\); images without RUN build here as they are/);
    expect(() => requireLinux('win32')).toThrow(/this is win32/);
  });
});
