// .dockerignore reading and matching: moby/patternmatcher's facts (cases, compile, readall),
// then Kiln's own checks: which ignore file applies, errors naming the file, BOM/CRLF files,
// and the RE2 corners a pattern can reach.
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DockerignoreError,
  IgnoreMatcher,
  findIgnoreFile,
  loadIgnoreMatcher,
  readDockerignore,
} from '../../src/context/dockerignore.js';
import { KilnError } from '../../src/errors.js';
import { describeSuite } from '../helpers/conformance.js';

interface MatchCase {
  patterns: string[];
  path: string;
  excluded: boolean;
  error?: boolean;
  platform?: string;
  api: string;
  source: string;
}

interface CompileCase {
  pattern: string;
  matchType: string;
  regexp: string | null;
}

interface ReadAllCase {
  input: string | null;
  expected: string[];
}

interface Outcome {
  excluded: boolean;
  error: boolean;
}

/** Upstream's contract: an invalid pattern list errors at New() or when matching; never excludes. */
function outcome(run: () => boolean): Outcome {
  try {
    return { excluded: run(), error: false };
  } catch (e) {
    if (!(e instanceof DockerignoreError)) throw e;
    return { excluded: false, error: true };
  }
}

/** The paths a walker visits on its way to `path`, root first ("a/b/c" -> a, a/b, a/b/c). */
function walkPrefixes(path: string): string[] {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  const rooted = path.startsWith('/');
  if (parts.length === 0) return rooted ? ['/'] : [];
  return parts.map((_, i) => (rooted ? '/' : '') + parts.slice(0, i + 1).join('/'));
}

/** MatchesUsingParentResults, parent by parent, as a directory walker would call it. */
function walk(patterns: string[], path: string): boolean {
  const m = new IgnoreMatcher(patterns);
  let parentMatched = false;
  for (const p of walkPrefixes(path)) parentMatched = m.matchesWithParent(p, parentMatched);
  return parentMatched;
}

describeSuite('dockerignore', (dir) => {
  const load = <T>(name: string): T => JSON.parse(readFileSync(join(dir, name), 'utf8')) as T;
  const cases = load<MatchCase[]>('cases.json');
  const compile = load<CompileCase[]>('compile.json');
  const readall = load<ReadAllCase[]>('readall.json');
  const ran = { cases: 0, compile: 0, readall: 0 };

  afterAll(() => {
    console.log(
      `dockerignore: ${ran.cases}/${cases.length} cases.json, ${ran.compile}/${compile.length} compile.json, ` +
        `${ran.readall}/${readall.length} readall.json cases ran`,
    );
  });

  it('has the cases the README promises', () => {
    expect(cases.length).toBe(137);
    expect(compile.length).toBe(21);
    expect(readall.length).toBeGreaterThan(0);
  });

  const title = (c: MatchCase) =>
    `${JSON.stringify(c.patterns)} ${JSON.stringify(c.path)} -> ${c.error ? 'error' : c.excluded ? 'excluded' : 'kept'}`;

  it.each(cases.map((c, i) => [`#${i} ${title(c)}`, c] as const))('cases.json %s', (_, c) => {
    const expected: Outcome = { excluded: c.excluded, error: c.error === true };
    expect(outcome(() => new IgnoreMatcher(c.patterns).matches(c.path))).toEqual(expected);
    // Upstream verified every case gives the same answer walking parent by parent.
    expect(outcome(() => walk(c.patterns, c.path))).toEqual(expected);
    ran.cases++;
  });

  it.each(compile.map((c) => [c.pattern, c] as const))('compile.json %s', (_, c) => {
    const [compiled] = new IgnoreMatcher([c.pattern]).patterns;
    expect(compiled).toBeDefined();
    expect({ matchType: compiled!.matchType, regexp: compiled!.regexp }).toEqual({
      matchType: c.matchType,
      regexp: c.regexp,
    });
    ran.compile++;
  });

  it.each(readall.map((c, i) => [i, c] as const))('readall.json #%i', (_, c) => {
    expect(readDockerignore(c.input)).toEqual(c.expected);
    ran.readall++;
  });
});

describe('readDockerignore', () => {
  it('strips a BOM on line 1 only and a CR at each line end', () => {
    expect(readDockerignore('\uFEFFa\r\nb\r\n\uFEFFc\r\n')).toEqual(['a', 'b', '\uFEFFc']);
  });

  it('takes # as a comment only at column 0', () => {
    expect(readDockerignore('# comment\n  # not a comment\n#\n')).toEqual(['# not a comment']);
  });

  it("trims Go's whitespace (NBSP, NEL) and cleans paths", () => {
    expect(readDockerignore('\u00a0a/./b//c/\u0085\n/\n/../x\n!  /y/../z\n../up\n')).toEqual([
      'a/b/c',
      '/',
      'x',
      '!z',
      '../up',
    ]);
  });

  it('refuses a line of 64 KiB, as bufio.Scanner does', () => {
    expect(readDockerignore(`${'a'.repeat(65535)}\n`)).toHaveLength(1);
    expect(() => readDockerignore(`ok\n${'a'.repeat(65536)}\n`)).toThrow(/token too long/);
  });
});

describe('IgnoreMatcher', () => {
  it('reports exclusions and never matches the context root', () => {
    const m = new IgnoreMatcher(['**', '!keep']);
    expect(m.hasExclusions).toBe(true);
    expect(new IgnoreMatcher(['a']).hasExclusions).toBe(false);
    expect(m.matches('.')).toBe(false);
    expect(m.matches('./')).toBe(false);
    expect(m.matches('x/y')).toBe(true);
    expect(m.matches('keep')).toBe(false);
  });

  it('skips blank patterns and describes each kept one', () => {
    const m = new IgnoreMatcher(['  ', '!docs/*.md', 'node_modules']);
    expect(m.patterns).toEqual([
      { source: '!docs/*.md', exclusion: true, matchType: 'regexp', regexp: '^docs/[^/]*\\.md$', dirs: ['docs', '*.md'] },
      { source: 'node_modules', exclusion: false, matchType: 'exact', regexp: null, dirs: ['node_modules'] },
    ]);
  });

  it('names the bad pattern in its error', () => {
    expect(() => new IgnoreMatcher(['ok', 'src/[a'])).toThrow(DockerignoreError);
    expect(() => new IgnoreMatcher(['ok', 'src/[a'])).toThrow('invalid .dockerignore pattern "src/[a": syntax error in pattern');
    expect(() => new IgnoreMatcher(['!'])).toThrow('illegal exclusion pattern: "!"');
    expect(() => new IgnoreMatcher(['a\\'])).toThrow(KilnError);
  });

  it('reports a pattern only RE2 rejects when it is evaluated, as upstream', () => {
    // filepath.Match accepts [z-a]; RE2 does not. An earlier match can keep it from ever running.
    const m = new IgnoreMatcher(['[z-a]']);
    expect(m.patterns[0]?.regexp).toBe('^[z-a]$');
    expect(() => m.matches('x')).toThrow(/"\[z-a\]": syntax error in pattern/);
    expect(new IgnoreMatcher(['*', '[z-a]']).matches('x/y')).toBe(true);
  });

  it('keeps the parent-results walk apart from MatchesOrParentMatches where upstream does', () => {
    // The 2nd "dir" is skipped at "dir" (already matched), so a walk does not carry it down.
    const patterns = ['dir', '!dir/x', 'dir'];
    expect(new IgnoreMatcher(patterns).matches('dir/x')).toBe(true);
    expect(walk(patterns, 'dir/x')).toBe(false);
    expect(walk(patterns, 'dir/y')).toBe(true);
  });

  it('walks without having been asked about the parents', () => {
    const m = new IgnoreMatcher(['docs', '!docs/README.md']);
    expect(m.matchesWithParent('docs/README.md', true)).toBe(false);
    expect(m.matchesWithParent('docs/other.md', true)).toBe(true);
    expect(new IgnoreMatcher(['a']).matchesWithParent('a/b/c', true)).toBe(true);
  });

  it.each([
    // [pattern, path, excluded]: RE2 syntax reached through "\x" escapes and [ ] classes
    ['a]*', 'a]bc', true], // ']' outside a class is literal in RE2 (a syntax error in JS with /u)
    ['[[:digit:]]*', '7up', true], // POSIX class inside brackets
    ['[[:digit:]]*', 'up', false],
    ['[[:^alpha:]]', '-', true],
    ['x\\d', 'x5', true], // "\d" reaches RE2 as a digit class
    ['x\\d', 'xd', false],
    ['x\\s', 'x ', true],
    ['x\\s', 'x\u00a0', false], // RE2's \s is ASCII only
    ['a\\ b*', 'a bc', true],
    ['a/**/b', 'a/x\ry/b', true], // RE2's . takes \r; JS's does not
    ['a/**/b', 'a/x\ny/b', false],
    ['\\Q*\\E?', '[^/]*z', true], // \Q...\E quotes what '*' became: "^\Q[^/]*\E[^/]$"
    ['\\Q*\\E?', '*z', false],
    ['[*]', ']', true], // '*' turns into [^/]* inside the class: "^[[^/]*]$" = any of '[', '^', '/', then ']'
    ['[*]', '[]', true],
    ['[*]', '[', false],
    ['[?]', '^]', true],
    ['a^b*', 'a^bc', false], // an unescaped ^ is a start-of-text anchor in RE2
    ['αβ?', 'αβγ', true],
    ['[^a]', '😀', true], // one class matches one code point
    ['??', '😀', false],
  ] as const)('pattern %j against %j -> %j', (pattern, path, excluded) => {
    expect(new IgnoreMatcher([pattern]).matches(path)).toBe(excluded);
  });

  it('refuses RE2 escapes RE2 does not know, when evaluated', () => {
    expect(() => new IgnoreMatcher(['x\\q*']).matches('xq')).toThrow(DockerignoreError);
    expect(() => new IgnoreMatcher(['x\\C']).matches('xC')).toThrow(DockerignoreError);
    expect(() => new IgnoreMatcher(['[[:nope:]]']).matches('n')).toThrow(DockerignoreError);
  });
});

describe('findIgnoreFile / loadIgnoreMatcher', () => {
  let root: string;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'kiln-dockerignore-'));
  });

  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('finds <context>/.dockerignore, or nothing', async () => {
    expect(await findIgnoreFile(root, join(root, 'Dockerfile'))).toBeUndefined();
    await writeFile(join(root, '.dockerignore'), 'x\n');
    expect(await findIgnoreFile(root, join(root, 'Dockerfile'))).toBe(join(root, '.dockerignore'));
    expect((await loadIgnoreMatcher(root, join(root, 'Dockerfile'))).matches('x')).toBe(true);
  });

  it('prefers Dockerfile.dockerignore next to the Dockerfile', async () => {
    await writeFile(join(root, '.dockerignore'), 'general\n');
    await writeFile(join(root, 'Dockerfile.dockerignore'), 'specific\n');
    expect(await findIgnoreFile(root, join(root, 'Dockerfile'))).toBe(join(root, 'Dockerfile.dockerignore'));
    const m = await loadIgnoreMatcher(root, join(root, 'Dockerfile'));
    expect(m.matches('specific')).toBe(true);
    expect(m.matches('general')).toBe(false);
  });

  it('uses build/app.Dockerfile.dockerignore for build/app.Dockerfile, else the context file', async () => {
    await mkdir(join(root, 'build'));
    await writeFile(join(root, '.dockerignore'), 'general\n');
    const dockerfile = join(root, 'build', 'app.Dockerfile');
    expect(await findIgnoreFile(root, dockerfile)).toBe(join(root, '.dockerignore'));
    await writeFile(join(root, 'build', 'app.Dockerfile.dockerignore'), 'specific\n');
    expect(await findIgnoreFile(root, dockerfile)).toBe(join(root, 'build', 'app.Dockerfile.dockerignore'));
    // A name-specific file in the context root does not apply to build/app.Dockerfile.
    await rm(join(root, 'build', 'app.Dockerfile.dockerignore'));
    await writeFile(join(root, 'app.Dockerfile.dockerignore'), 'wrong\n');
    expect(await findIgnoreFile(root, dockerfile)).toBe(join(root, '.dockerignore'));
  });

  it('ignores a directory in place of the file, and a Dockerfile on stdin', async () => {
    await mkdir(join(root, 'Dockerfile.dockerignore'));
    expect(await findIgnoreFile(root, join(root, 'Dockerfile'))).toBeUndefined();
    await writeFile(join(root, '.dockerignore'), 'x\n');
    expect(await findIgnoreFile(root, '-')).toBe(join(root, '.dockerignore'));
  });

  it('gives no patterns without a file', async () => {
    const m = await loadIgnoreMatcher(root, join(root, 'Dockerfile'));
    expect(m.patterns).toEqual([]);
    expect(m.matches('anything')).toBe(false);
  });

  it('names the file and line of a bad pattern', async () => {
    const file = join(root, 'Dockerfile.dockerignore');
    await writeFile(file, '# ignore\nnode_modules\n\n  src/[oops\n');
    const load = loadIgnoreMatcher(root, join(root, 'Dockerfile'));
    await expect(load).rejects.toThrow(DockerignoreError);
    await expect(loadIgnoreMatcher(root, join(root, 'Dockerfile'))).rejects.toThrow(
      `${file}:4: invalid .dockerignore pattern "src/[oops": syntax error in pattern`,
    );
    await writeFile(file, '!\n');
    await expect(loadIgnoreMatcher(root, join(root, 'Dockerfile'))).rejects.toThrow(`${file}:1: `);
  });

  it('names the file for a pattern RE2 rejects, when it is evaluated', async () => {
    await writeFile(join(root, '.dockerignore'), 'a\nb[z-a]\n');
    const m = await loadIgnoreMatcher(root, join(root, 'Dockerfile'));
    expect(() => m.matches('bx')).toThrow(`${join(root, '.dockerignore')}:2: invalid .dockerignore pattern "b[z-a]"`);
  });

  it('reads a file with a BOM and CRLF line ends', async () => {
    await writeFile(
      join(root, '.dockerignore'),
      Buffer.from('\uFEFF# generated on Windows\r\nnode_modules\r\n!node_modules/keep\r\n  /dist/  \r\n*.log', 'utf8'),
    );
    const m = await loadIgnoreMatcher(root, join(root, 'Dockerfile'));
    expect(m.patterns.map((p) => p.source)).toEqual(['node_modules', '!node_modules/keep', 'dist', '*.log']);
    expect(m.matches('node_modules/x/y')).toBe(true);
    expect(m.matches('node_modules/keep')).toBe(false);
    expect(m.matches('node_modules/keep/z')).toBe(false);
    expect(m.matches('dist/app.js')).toBe(true);
    expect(m.matches('debug.log')).toBe(true);
    expect(m.matches('src/debug.log')).toBe(false);
    expect(m.matches('# generated on Windows')).toBe(false);
  });
});
