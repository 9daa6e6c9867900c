// RUN --mount values as BuildKit's frontend reads them (commands_runmount.go), the masking of
// secrets in streamed output, and --secret / --ssh values as buildctl reads them.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { csvFields, mountSources, parseRunMount } from '../../src/dockerfile/run-mount.js';
import { SecretMask } from '../../src/engine/secret-mask.js';
import { loadSecrets, parseSecretSpec, parseSshSpecs } from '../../src/engine/build-secrets.js';

const same = (w: string) => w;

describe('parseRunMount', () => {
  it('gives each type BuildKit\'s defaults', () => {
    expect(parseRunMount('target=/src', same)).toMatchObject({ type: 'bind', readonly: true, from: '', source: '' });
    expect(parseRunMount('type=cache,target=/c', same)).toMatchObject({ type: 'cache', readonly: false, id: '' });
    expect(parseRunMount('type=tmpfs,target=/t,size=64m', same)).toMatchObject({ type: 'tmpfs', readonly: false, size: 64 * 1024 * 1024 });
    expect(parseRunMount('type=secret,id=npm', same)).toMatchObject({ type: 'secret', readonly: true, required: false });
    expect(parseRunMount('type=ssh,required', same)).toMatchObject({ type: 'ssh', required: true });
  });

  it('reads flags, booleans, octal modes and the key aliases', () => {
    expect(parseRunMount('type=bind,src=a,dst=/b,rw', same)).toMatchObject({ source: 'a', target: '/b', readonly: false });
    expect(parseRunMount('type=cache,destination=/c,ro=true,sharing=LOCKED,mode=0700,uid=1000,gid=1000', same)).toMatchObject({
      target: '/c', readonly: true, sharing: 'locked', mode: 0o700, uid: 1000, gid: 1000,
    });
    expect(parseRunMount('type=bind,target=/x,readwrite=1', same)).toMatchObject({ readonly: false });
  });

  it('expands values but never from=', () => {
    const expand = (w: string) => w.replace('$DIR', '/opt');
    expect(parseRunMount('type=cache,target=$DIR/cache', expand).target).toBe('/opt/cache');
    expect(() => parseRunMount('type=bind,from=$STAGE,target=/x', expand)).toThrow("'from' doesn't support variable expansion, define alias stage instead");
  });

  it.each([
    ['type=volume,target=/v', 'unsupported mount type "volume"'],
    ['type=cache,target=/c,sharing=sometimes', 'unsupported sharing value "sometimes"'],
    ['type=bind,target=/b,mode=0700', 'mode not allowed for "bind" type mounts'],
    ['type=tmpfs,target=/t,gid=1', 'gid not allowed for "tmpfs" type mounts'],
    ['type=cache,target=/c,size=1m', "unexpected key 'size' for mount type 'cache'"],
    ['type=bind,target=/b,required', "unexpected key 'required' for mount type 'bind'"],
    ['type=secret,from=x,id=a', 'secret mount should not have a from'],
    ['type=secret', 'invalid secret mount. one of source, target required'],
    ['type=secret,source=a,id=b', "both source and id can't be set"],
    ['type=bind,target=/b,sharing=shared', 'invalid cache sharing set for bind mount'],
    ['type=ssh,source=x', 'ssh does not support source'],
    ['type=cache,target=/c,mode=9', 'invalid value 9 for mode'],
    ['type=bind,target=/b,ro=maybe', 'invalid value for ro: maybe'],
    ['type=cache,target=/c,nonsense', "invalid field 'nonsense' must be a key=value pair"],
    ['type=cache,targte=/c', "unexpected key 'targte' in 'targte=/c' (did you mean target?)"],
  ])('refuses %s', (value, message) => {
    expect(() => parseRunMount(value, same)).toThrow(message);
  });

  it('splits CSV as Go does, quotes included', () => {
    expect(csvFields('type=bind,"target=/a,b",ro')).toEqual(['type=bind', 'target=/a,b', 'ro']);
    expect(csvFields('"say ""hi"""')).toEqual(['say "hi"']);
    expect(() => csvFields('a"b')).toThrow(/bare "/);
  });

  it('lists the from= of each mount for the stage graph', () => {
    expect(mountSources(['type=bind,from=build,target=/b', 'type=cache,target=/c', 'from=deps,target=/d'])).toEqual(['build', 'deps']);
  });
});

describe('SecretMask', () => {
  it('masks a secret split across chunks, and only the secret', () => {
    const mask = new SecretMask([Buffer.from('hunter2')]);
    const out = [mask.push(Buffer.from('password: hun')), mask.push(Buffer.from('ter2\nnext hunt')), mask.flush()];
    expect(Buffer.concat(out).toString()).toBe('password: ****\nnext hunt');
  });

  it('holds back only an end that could begin a secret, so lines are not cut', () => {
    const mask = new SecretMask([Buffer.from('hunter2')]);
    expect(mask.push(Buffer.from('log: 1 2\n')).toString()).toBe('log: 1 2\n');
    expect(mask.push(Buffer.from('next: hu')).toString()).toBe('next: ');
    expect(mask.push(Buffer.from('ge\n')).toString()).toBe('huge\n');
  });

  it('masks the longer of two overlapping secrets whole', () => {
    const mask = new SecretMask([Buffer.from('abc'), Buffer.from('abcdef')]);
    expect(Buffer.concat([mask.push(Buffer.from('x abcdef y abc z')), mask.flush()]).toString()).toBe('x **** y **** z');
  });
});

describe('--secret and --ssh', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-secret-spec-'));
  const file = join(dir, 'npmrc');
  writeFileSync(file, 'token');

  it('reads buildctl\'s forms', () => {
    expect(parseSecretSpec(`id=npm,src=${file}`)).toEqual({ id: 'npm', file });
    expect(parseSecretSpec('id=tok,env=TOKEN')).toEqual({ id: 'tok', env: 'TOKEN' });
    expect(parseSecretSpec('type=env,id=tok,src=TOKEN')).toEqual({ id: 'tok', env: 'TOKEN' });
    expect(() => parseSecretSpec('src=x')).toThrow('a secret needs an id');
    expect(() => parseSecretSpec('id=a,colour=b')).toThrow("unexpected key 'colour'");
  });

  it('takes id=ID alone from the variable ID, else from the file ID', () => {
    expect(Buffer.from(loadSecrets([{ id: 'TOKEN' }], { TOKEN: 'from-env' }).TOKEN!).toString()).toBe('from-env');
    expect(Buffer.from(loadSecrets([{ id: file }], {})[file]!).toString()).toBe('token');
  });

  it('says which secret cannot be read', () => {
    expect(() => loadSecrets([{ id: 'a', file: join(dir, 'missing') }], {})).toThrow(/--secret id=a: cannot read .*missing: no such file/);
    expect(() => loadSecrets([{ id: 'a', env: 'NOPE' }], {})).toThrow('--secret id=a: the environment variable NOPE is not set');
    writeFileSync(join(dir, 'big'), Buffer.alloc(500 * 1024 + 1));
    expect(() => loadSecrets([{ id: 'big', file: join(dir, 'big') }], {})).toThrow(/at most 512000 \(500 KiB\)/);
  });

  it('needs an agent socket for --ssh', () => {
    expect(() => parseSshSpecs(['default'], {})).toThrow(/SSH_AUTH_SOCK is not set/);
    expect(() => parseSshSpecs([`default=${file}`], {})).toThrow(/is not a socket/);
    expect(() => parseSshSpecs(['=x'], {})).toThrow(/an id is needed/);
  });
});
