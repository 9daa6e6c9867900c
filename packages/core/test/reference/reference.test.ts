import { KilnError } from '../../src/errors.js';
import {
  InvalidReferenceError,
  familiarName,
  formatReference,
  isValidTag,
  parseReference,
  repositoryName,
} from '../../src/reference/index.js';
import type { ImageReference } from '../../src/reference/index.js';

// Cases follow github.com/distribution/reference (normalize_test.go,
// reference_test.go, regexp.go) and go-digest, which `docker pull` uses.

const HEX64 = 'f'.repeat(64);
const SHA256 = `sha256:${HEX64}`;
const BUSYBOX_DIGEST = 'sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa';
const SHA512 = `sha512:${'f'.repeat(128)}`;
const SHA384 = `sha384:${'0'.repeat(96)}`;
const ID = '1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a';

interface ValidCase {
  input: string;
  /** formatReference(parseReference(input)) */
  full: string;
  /** familiarName(parseReference(input)) */
  familiar: string;
  domain: string;
  path: string;
}

function v(input: string, full: string, familiar: string, domain: string, path: string): ValidCase {
  return { input, full, familiar, domain, path };
}

const VALID: ValidCase[] = [
  // Docker Hub official images and namespaces.
  v('nginx', 'docker.io/library/nginx:latest', 'nginx:latest', 'docker.io', 'library/nginx'),
  v('nginx:1.27', 'docker.io/library/nginx:1.27', 'nginx:1.27', 'docker.io', 'library/nginx'),
  v('user/app', 'docker.io/user/app:latest', 'user/app:latest', 'docker.io', 'user/app'),
  v('user/app:1', 'docker.io/user/app:1', 'user/app:1', 'docker.io', 'user/app'),
  v('library/debian', 'docker.io/library/debian:latest', 'debian:latest', 'docker.io', 'library/debian'),
  v('docker.io/x', 'docker.io/library/x:latest', 'x:latest', 'docker.io', 'library/x'),
  v('index.docker.io/x', 'docker.io/library/x:latest', 'x:latest', 'docker.io', 'library/x'),
  v('docker.io/library/redis:latest', 'docker.io/library/redis:latest', 'redis:latest', 'docker.io', 'library/redis'),
  v('index.docker.io/fooo/bar', 'docker.io/fooo/bar:latest', 'fooo/bar:latest', 'docker.io', 'fooo/bar'),
  v(
    'index.docker.io/library/ubuntu-12.04-base',
    'docker.io/library/ubuntu-12.04-base:latest',
    'ubuntu-12.04-base:latest',
    'docker.io',
    'library/ubuntu-12.04-base',
  ),
  v('docker.io/library/foo/bar', 'docker.io/library/foo/bar:latest', 'library/foo/bar:latest', 'docker.io', 'library/foo/bar'),
  v('store/foo/bar', 'docker.io/store/foo/bar:latest', 'store/foo/bar:latest', 'docker.io', 'store/foo/bar'),
  v('other/library', 'docker.io/other/library:latest', 'other/library:latest', 'docker.io', 'other/library'),
  v('test_com/foo', 'docker.io/test_com/foo:latest', 'test_com/foo:latest', 'docker.io', 'test_com/foo'),
  v('docker/migrator', 'docker.io/docker/migrator:latest', 'docker/migrator:latest', 'docker.io', 'docker/migrator'),
  // Separators: "." "_" "__" and any number of "-".
  v('docker---rules/docker', 'docker.io/docker---rules/docker:latest', 'docker---rules/docker:latest', 'docker.io', 'docker---rules/docker'),
  v('dock__er/docker', 'docker.io/dock__er/docker:latest', 'dock__er/docker:latest', 'docker.io', 'dock__er/docker'),
  v('d/docker', 'docker.io/d/docker:latest', 'd/docker:latest', 'docker.io', 'd/docker'),
  v('jess/t', 'docker.io/jess/t:latest', 'jess/t:latest', 'docker.io', 'jess/t'),
  // 64 characters, but not hexadecimal; and a hex name qualified by a domain.
  v(
    'thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev',
    'docker.io/library/thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev:latest',
    'thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev:latest',
    'docker.io',
    'library/thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev',
  ),
  v(`docker.io/${ID}`, `docker.io/library/${ID}:latest`, `${ID}:latest`, 'docker.io', `library/${ID}`),
  v(ID.slice(1), `docker.io/library/${ID.slice(1)}:latest`, `${ID.slice(1)}:latest`, 'docker.io', `library/${ID.slice(1)}`),
  // A single component is never a domain, even "localhost:5000" or an IP.
  v('localhost:5000', 'docker.io/library/localhost:5000', 'localhost:5000', 'docker.io', 'library/localhost'),
  v('test.com:tag', 'docker.io/library/test.com:tag', 'test.com:tag', 'docker.io', 'library/test.com'),
  v('192.168.0.1', 'docker.io/library/192.168.0.1:latest', '192.168.0.1:latest', 'docker.io', 'library/192.168.0.1'),
  v('192.168.0.1:80', 'docker.io/library/192.168.0.1:80', '192.168.0.1:80', 'docker.io', 'library/192.168.0.1'),
  // Registries.
  v('localhost/a', 'localhost/a:latest', 'localhost/a:latest', 'localhost', 'a'),
  v('localhost:5000/a/b:t', 'localhost:5000/a/b:t', 'localhost:5000/a/b:t', 'localhost:5000', 'a/b'),
  v('127.0.0.1:5000/x', '127.0.0.1:5000/x:latest', '127.0.0.1:5000/x:latest', '127.0.0.1:5000', 'x'),
  v('127.0.0.1:5000/library/debian', '127.0.0.1:5000/library/debian:latest', '127.0.0.1:5000/library/debian:latest', '127.0.0.1:5000', 'library/debian'),
  v('192.168.0.1:8/debian', '192.168.0.1:8/debian:latest', '192.168.0.1:8/debian:latest', '192.168.0.1:8', 'debian'),
  v('[::1]:5000/x', '[::1]:5000/x:latest', '[::1]:5000/x:latest', '[::1]:5000', 'x'),
  v('[fc00::1]:5000/docker/docker', '[fc00::1]:5000/docker/docker:latest', '[fc00::1]:5000/docker/docker:latest', '[fc00::1]:5000', 'docker/docker'),
  v('[2001:db8::1]/repo', '[2001:db8::1]/repo:latest', '[2001:db8::1]/repo:latest', '[2001:db8::1]', 'repo'),
  v('[fc00:1:2:3:4:5:6:7]:5000/library/debian', '[fc00:1:2:3:4:5:6:7]:5000/library/debian:latest', '[fc00:1:2:3:4:5:6:7]:5000/library/debian:latest', '[fc00:1:2:3:4:5:6:7]:5000', 'library/debian'),
  v('example.com/privatebase', 'example.com/privatebase:latest', 'example.com/privatebase:latest', 'example.com', 'privatebase'),
  v('test-com:8080/foo', 'test-com:8080/foo:latest', 'test-com:8080/foo:latest', 'test-com:8080', 'foo'),
  v('xn--n3h.com:18080/foo', 'xn--n3h.com:18080/foo:latest', 'xn--n3h.com:18080/foo:latest', 'xn--n3h.com:18080', 'foo'),
  v('sub-dom1.foo.com/bar/baz/quux:some-long-tag', 'sub-dom1.foo.com/bar/baz/quux:some-long-tag', 'sub-dom1.foo.com/bar/baz/quux:some-long-tag', 'sub-dom1.foo.com', 'bar/baz/quux'),
  v('b.gcr.io/test.example.com/my-app:test.example.com', 'b.gcr.io/test.example.com/my-app:test.example.com', 'b.gcr.io/test.example.com/my-app:test.example.com', 'b.gcr.io', 'test.example.com/my-app'),
  v('192.168.1.1:5000/repo:5050', '192.168.1.1:5000/repo:5050', '192.168.1.1:5000/repo:5050', '192.168.1.1:5000', 'repo'),
  // An uppercase first component can only be a host name.
  v('Docker/docker', 'Docker/docker:latest', 'Docker/docker:latest', 'Docker', 'docker'),
  v('FOO/bar', 'FOO/bar:latest', 'FOO/bar:latest', 'FOO', 'bar'),
  // Tags: case is kept, up to 128 characters.
  v('lowercase:Uppercase', 'docker.io/library/lowercase:Uppercase', 'lowercase:Uppercase', 'docker.io', 'library/lowercase'),
  v('x:_under', 'docker.io/library/x:_under', 'x:_under', 'docker.io', 'library/x'),
  v(`x:${'a'.repeat(128)}`, `docker.io/library/x:${'a'.repeat(128)}`, `x:${'a'.repeat(128)}`, 'docker.io', 'library/x'),
  // Digests (no "latest" is added) and tag + digest (both kept).
  v(`name@${SHA256}`, `docker.io/library/name@${SHA256}`, `name@${SHA256}`, 'docker.io', 'library/name'),
  v(`busybox:latest@${BUSYBOX_DIGEST}`, `docker.io/library/busybox:latest@${BUSYBOX_DIGEST}`, `busybox:latest@${BUSYBOX_DIGEST}`, 'docker.io', 'library/busybox'),
  v(`test:5000/repo:tag@${SHA256}`, `test:5000/repo:tag@${SHA256}`, `test:5000/repo:tag@${SHA256}`, 'test:5000', 'repo'),
  v(`[2001:db8::1]:5000/repo@${SHA256}`, `[2001:db8::1]:5000/repo@${SHA256}`, `[2001:db8::1]:5000/repo@${SHA256}`, '[2001:db8::1]:5000', 'repo'),
  v(`xn--7o8h.com/myimage:xn--7o8h.com@${SHA512}`, `xn--7o8h.com/myimage:xn--7o8h.com@${SHA512}`, `xn--7o8h.com/myimage:xn--7o8h.com@${SHA512}`, 'xn--7o8h.com', 'myimage'),
  v(`x@${SHA384}`, `docker.io/library/x@${SHA384}`, `x@${SHA384}`, 'docker.io', 'library/x'),
  // Length: the path (not the domain) may have 255 characters.
  v(`${'a/'.repeat(127)}a:tag`, `docker.io/${'a/'.repeat(127)}a:tag`, `${'a/'.repeat(127)}a:tag`, 'docker.io', `${'a/'.repeat(127)}a`),
  v('a'.repeat(247), `docker.io/library/${'a'.repeat(247)}:latest`, `${'a'.repeat(247)}:latest`, 'docker.io', `library/${'a'.repeat(247)}`),
  v(`${'h'.repeat(60)}.com/${'a'.repeat(255)}`, `${'h'.repeat(60)}.com/${'a'.repeat(255)}:latest`, `${'h'.repeat(60)}.com/${'a'.repeat(255)}:latest`, `${'h'.repeat(60)}.com`, 'a'.repeat(255)),
  // Docker quirk: "a_b.c" looks like a host (it has a "."), is not a valid
  // one, and is then read as the first path component, leaving no domain.
  v('a_b.c/x', 'a_b.c/x:latest', 'a_b.c/x:latest', '', 'a_b.c/x'),
];

interface InvalidCase {
  input: string;
  /** A fragment the message must contain (besides the quoted input). */
  says: string;
}

function bad(input: string, says: string): InvalidCase {
  return { input, says };
}

const NAME = 'is invalid: path components may contain only lowercase letters and digits';
const LOWER = 'repository name must be lowercase';

const INVALID: InvalidCase[] = [
  bad('', 'repository name must have at least one component'),
  bad(ID, 'cannot specify 64-byte hexadecimal strings'),
  // Uppercase in the path.
  bad('Nginx', `${LOWER} (got "Nginx"); write "nginx" instead`),
  bad('Uppercase:tag', `${LOWER} (got "Uppercase"); write "uppercase:tag" instead`),
  bad('docker/Docker', `${LOWER} (got "docker/Docker"); write "docker/docker" instead`),
  bad('docker.io/docker/Docker', `write "docker.io/docker/docker" instead`),
  bad('test:5000/Uppercase/lowercase:tag', `write "test:5000/uppercase/lowercase:tag" instead`),
  bad('Foo/Bar', `write "Foo/bar" instead`),
  bad('ghcr.io/Org/App:-v1', `${LOWER} (got "ghcr.io/Org/App"); use lowercase letters`),
  // Bad names.
  bad('https://github.com/docker/docker', 'drop the scheme'),
  bad('-docker', `repository name "-docker" ${NAME}`),
  bad('-docker/docker', NAME),
  bad('docker-/docker', NAME),
  bad('-docker-/docker', NAME),
  bad('-docker.io/docker/docker', '"-docker.io" is read as a registry host'),
  bad('____/____', NAME),
  bad('_docker/_docker', NAME),
  bad('dock..er/docker', NAME),
  bad('dock_.er/docker', NAME),
  bad('dock-.er/docker', NAME),
  bad('docker///docker', 'a name component is empty'),
  bad('docker.io/docker///docker', 'a name component is empty'),
  bad('docker/', 'a name component is empty'),
  bad(':justtag', 'a name component is empty'),
  bad(`@${SHA256}`, 'a name component is empty'),
  bad('aa/asdf$$^/aa', NAME),
  bad(' nginx', 'it contains whitespace'),
  bad('[fc00::1]', 'must be followed by "/"'),
  bad('[fc00::1]:5000', 'must be followed by "/"'),
  bad('[2001:db8::1]:tag', 'must be followed by "/"'),
  bad('fc00::1:5000/debian', '"fc00::1:5000" is read as a registry host'),
  bad('[fe80::1%eth0]:5000/debian', 'is read as a registry host'),
  bad('[2001:db8:3:4::192.0.2.33]:5000/debian', 'is read as a registry host'),
  bad('u@h.com/x', 'is read as a registry host'),
  // Too long: the path after the registry is limited to 255 characters.
  bad(`${'a/'.repeat(128)}a:tag`, 'repository name must not be more than 255 characters'),
  bad('a'.repeat(248), 'has 256; shorten the name'),
  bad(
    'this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255/docker',
    'must not be more than 255 characters',
  ),
  // Tags.
  bad('x:', 'the tag after ":" is empty'),
  bad('x:-foo', 'invalid tag "-foo": a tag must start with a letter, digit or "_"'),
  bad('x:.foo', 'invalid tag ".foo"'),
  bad('x:a+b', 'invalid tag "a+b"'),
  bad('x:a:b', 'invalid tag "a:b"'),
  bad(`x:${'a'.repeat(129)}`, 'has 129 characters; a tag may have at most 128'),
  // Digests.
  bad('x@', 'a digest has the form "<algorithm>:<hex>"'),
  bad('x@sha256', 'a digest has the form "<algorithm>:<hex>"'),
  bad('x@sha256:', 'a digest has the form "<algorithm>:<hex>"'),
  bad('repo@sha256:ffffffffffffffffffffffffffffffffff', 'needs exactly 64 lowercase hex digits, but it has 34'),
  bad(`x@sha256:${HEX64}0`, 'but it has 65'),
  bad(`x@sha512:${HEX64}`, 'needs exactly 128 lowercase hex digits, but it has 64'),
  bad(`x@sha256:${'F'.repeat(64)}`, 'it contains uppercase hex digits'),
  bad(`x@sha256:${'g'.repeat(64)}`, 'not hexadecimal digits'),
  bad(`validname@invaliddigest:${HEX64}`, 'unsupported digest algorithm "invaliddigest"; use sha256'),
  bad(`x@SHA256:${HEX64}`, 'unsupported digest algorithm "SHA256"'),
  bad(`x@sha256:${HEX64}@x`, 'not hexadecimal digits'),
];

describe('parseReference: valid references', () => {
  it.each(VALID.map((c) => [c.input.length > 60 ? `${c.input.slice(0, 60)}…` : c.input, c] as const))(
    '%s',
    (_label, c) => {
      const ref = parseReference(c.input);
      expect(formatReference(ref)).toBe(c.full);
      expect(familiarName(ref)).toBe(c.familiar);
      expect(ref.domain).toBe(c.domain);
      expect(ref.path).toBe(c.path);
      expect(repositoryName(ref)).toBe(c.domain === '' ? c.path : `${c.domain}/${c.path}`);
    },
  );

  it('fills in "latest" only when there is neither tag nor digest', () => {
    expect(parseReference('nginx')).toEqual({ domain: 'docker.io', path: 'library/nginx', tag: 'latest' });
    expect(parseReference(`nginx@${SHA256}`)).toEqual({ domain: 'docker.io', path: 'library/nginx', digest: SHA256 });
    expect(parseReference(`nginx@${SHA256}`)).not.toHaveProperty('tag');
    expect(parseReference(`nginx:1@${SHA256}`)).toEqual({
      domain: 'docker.io',
      path: 'library/nginx',
      tag: '1',
      digest: SHA256,
    });
  });
});

describe('parseReference: invalid references', () => {
  it.each(INVALID.map((c) => [c.input.length > 60 ? `${c.input.slice(0, 60)}…` : c.input, c] as const))(
    '%s',
    (_label, c) => {
      let caught: unknown;
      try {
        parseReference(c.input);
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(InvalidReferenceError);
      const err = caught as InvalidReferenceError;
      expect(err.message.startsWith(`invalid image reference ${JSON.stringify(c.input)}: `)).toBe(true);
      expect(err.message).toContain(c.says);
      expect(err.input).toBe(c.input);
    },
  );

  it('throws a KilnError subclass with the class name and a full message', () => {
    let caught: unknown;
    try {
      parseReference('Nginx:1.27');
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(KilnError);
    expect(caught).toBeInstanceOf(Error);
    const err = caught as InvalidReferenceError;
    expect(err.name).toBe('InvalidReferenceError');
    expect(err.location).toBeUndefined();
    expect(err.message).toBe(
      'invalid image reference "Nginx:1.27": repository name must be lowercase (got "Nginx"); write "nginx:1.27" instead',
    );
  });

  it('explains the 64-hex ambiguity and how to avoid it', () => {
    expect(() => parseReference(ID)).toThrow(
      `invalid image reference "${ID}": invalid repository name, cannot specify 64-byte hexadecimal strings: ` +
        'a bare 64-character hex string looks like an image ID; to pin content write "<name>@sha256:<hex>", ' +
        `or qualify the name (e.g. "docker.io/library/${ID}")`,
    );
    // Only a bare, lowercase, exactly-64 hex string is ambiguous.
    expect(parseReference(`docker.io/library/${ID}`).path).toBe(`library/${ID}`);
    expect(() => parseReference(ID.toUpperCase())).toThrow(/must be lowercase/);
  });

  it('quotes inputs with special characters safely', () => {
    expect(() => parseReference('a"b\n')).toThrow('invalid image reference "a\\"b\\n": ');
  });
});

describe('round trips', () => {
  it.each(VALID.map((c) => [c.input.length > 60 ? `${c.input.slice(0, 60)}…` : c.input, c.input] as const))(
    '%s',
    (_label, input) => {
      const ref = parseReference(input);
      // The full form and the familiar form both parse back to the same reference.
      expect(parseReference(formatReference(ref))).toEqual(ref);
      expect(parseReference(familiarName(ref))).toEqual(ref);
      // Normalizing is idempotent.
      expect(formatReference(parseReference(formatReference(ref)))).toBe(formatReference(ref));
    },
  );

  it('all spellings of a Docker Hub image agree', () => {
    const spellings = [
      'ubuntu',
      'ubuntu:latest',
      'library/ubuntu',
      'docker.io/ubuntu',
      'docker.io/library/ubuntu',
      'index.docker.io/ubuntu',
      'index.docker.io/library/ubuntu:latest',
    ];
    for (const s of spellings) {
      expect(formatReference(parseReference(s))).toBe('docker.io/library/ubuntu:latest');
      expect(familiarName(parseReference(s))).toBe('ubuntu:latest');
    }
  });
});

describe('formatReference / familiarName / repositoryName on constructed references', () => {
  const cases: Array<[ImageReference, string, string, string]> = [
    [{ domain: 'docker.io', path: 'library/nginx', tag: 'latest' }, 'docker.io/library/nginx:latest', 'nginx:latest', 'docker.io/library/nginx'],
    [{ domain: 'docker.io', path: 'user/app', tag: '1' }, 'docker.io/user/app:1', 'user/app:1', 'docker.io/user/app'],
    [{ domain: 'localhost:5000', path: 'a', tag: 't' }, 'localhost:5000/a:t', 'localhost:5000/a:t', 'localhost:5000/a'],
    [{ domain: 'docker.io', path: 'library/x', digest: SHA256 }, `docker.io/library/x@${SHA256}`, `x@${SHA256}`, 'docker.io/library/x'],
    [{ domain: 'ghcr.io', path: 'o/x', tag: 't', digest: SHA256 }, `ghcr.io/o/x:t@${SHA256}`, `ghcr.io/o/x:t@${SHA256}`, 'ghcr.io/o/x'],
    [{ domain: 'docker.io', path: 'library/a/b' }, 'docker.io/library/a/b', 'library/a/b', 'docker.io/library/a/b'],
    [{ domain: 'index.docker.io', path: 'library/x' }, 'index.docker.io/library/x', 'index.docker.io/library/x', 'index.docker.io/library/x'],
  ];
  it.each(cases)('%j', (ref, full, familiar, repo) => {
    expect(formatReference(ref)).toBe(full);
    expect(familiarName(ref)).toBe(familiar);
    expect(repositoryName(ref)).toBe(repo);
  });
});

describe('isValidTag', () => {
  it.each(['latest', '1.27', 'v1.2.3-rc.1', '_x', 'A', 'Uppercase', 'a'.repeat(128), '0', 'a--b..c__d'])(
    'accepts %s',
    (tag) => {
      expect(isValidTag(tag)).toBe(true);
    },
  );
  it.each(['', '-x', '.x', 'a:b', 'a/b', 'a@b', 'a+b', 'a b', 'é', 'a'.repeat(129)])('rejects %j', (tag) => {
    expect(isValidTag(tag)).toBe(false);
  });
});

describe('robustness', () => {
  it('rejects very long hostile inputs quickly', () => {
    const inputs = ['a-'.repeat(50_000) + '/', 'a.'.repeat(50_000) + '!', 'a__'.repeat(50_000) + '_', `x:${'a'.repeat(100_000)}`];
    const start = Date.now();
    for (const input of inputs) expect(() => parseReference(input)).toThrow(InvalidReferenceError);
    expect(Date.now() - start).toBeLessThan(2000);
  });
});
