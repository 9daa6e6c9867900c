// glob.ts is Go's path.Match: Go's own test table (src/path/match_test.go), then what sets it
// apart from a regular-expression translation and from other globs ('!' is not negation).
import { BadPatternError, globToRegExp, hasWildcard, isValidPattern, pathMatch } from '../../src/context/glob.js';

/** Go's matchTests: pattern, name, match, whether Match returns ErrBadPattern. */
const GO_MATCH_TESTS: [string, string, boolean, boolean][] = [
  ['abc', 'abc', true, false],
  ['*', 'abc', true, false],
  ['*c', 'abc', true, false],
  ['a*', 'a', true, false],
  ['a*', 'abc', true, false],
  ['a*', 'ab/c', false, false],
  ['a*/b', 'abc/b', true, false],
  ['a*/b', 'a/c/b', false, false],
  ['a*b*c*d*e*/f', 'axbxcxdxe/f', true, false],
  ['a*b*c*d*e*/f', 'axbxcxdxexxx/f', true, false],
  ['a*b*c*d*e*/f', 'axbxcxdxe/xxx/f', false, false],
  ['a*b*c*d*e*/f', 'axbxcxdxexxx/fff', false, false],
  ['a*b?c*x', 'abxbbxdbxebxczzx', true, false],
  ['a*b?c*x', 'abxbbxdbxebxczzy', false, false],
  ['ab[c]', 'abc', true, false],
  ['ab[b-d]', 'abc', true, false],
  ['ab[e-g]', 'abc', false, false],
  ['ab[^c]', 'abc', false, false],
  ['ab[^b-d]', 'abc', false, false],
  ['ab[^e-g]', 'abc', true, false],
  ['a\\*b', 'a*b', true, false],
  ['a\\*b', 'ab', false, false],
  ['a?b', 'a☺b', true, false],
  ['a[^a]b', 'a☺b', true, false],
  ['a???b', 'a☺b', false, false],
  ['a[^a][^a][^a]b', 'a☺b', false, false],
  ['[a-ζ]*', 'α', true, false],
  ['*[a-ζ]', 'A', false, false],
  ['a?b', 'a/b', false, false],
  ['a*b', 'a/b', false, false],
  ['[\\]a]', ']', true, false],
  ['[\\-]', '-', true, false],
  ['[x\\-]', 'x', true, false],
  ['[x\\-]', '-', true, false],
  ['[x\\-]', 'z', false, false],
  ['[\\-x]', 'x', true, false],
  ['[\\-x]', '-', true, false],
  ['[\\-x]', 'a', false, false],
  ['[]a]', ']', false, true],
  ['[-]', '-', false, true],
  ['[x-]', 'x', false, true],
  ['[x-]', '-', false, true],
  ['[x-]', 'z', false, true],
  ['[-x]', 'x', false, true],
  ['[-x]', '-', false, true],
  ['[-x]', 'a', false, true],
  ['\\', 'a', false, true],
  ['[a-b-c]', 'a', false, true],
  ['[', 'a', false, true],
  ['[^', 'a', false, true],
  ['[^bc', 'a', false, true],
  ['a[', 'a', false, true],
  ['a[', 'ab', false, true],
  ['a[', 'x', false, true],
  ['a/b[', 'x', false, true],
  ['*x', 'xxx', true, false],
];

describe("Go's path.Match table", () => {
  it.each(GO_MATCH_TESTS)('Match(%j, %j) = %j (bad pattern: %j)', (pattern, name, match, bad) => {
    if (bad) {
      expect(() => pathMatch(pattern, name)).toThrow(BadPatternError);
      expect(() => globToRegExp(pattern)).toThrow(BadPatternError);
      expect(isValidPattern(pattern)).toBe(false);
    } else {
      expect(pathMatch(pattern, name)).toBe(match);
      expect(globToRegExp(pattern).test(name)).toBe(match);
      expect(isValidPattern(pattern)).toBe(true);
    }
  });
});

/** What sets path.Match apart: [why, pattern, name, match]. */
const RULES: [string, string, string, boolean][] = [
  // '!' is an ordinary character: only '^' negates a class.
  ['! is literal', '[!a]', '!', true],
  ['! is literal', '[!a]', 'a', true],
  ['! is literal', '[!a]', 'b', false],
  ['! is literal', '*.[!o]', 'x.o', true], // the class is '!' or 'o'
  ['! is literal', '*.[!o]', 'x.c', false],
  ['! is literal', '!*', '!keep', true],
  ['^ negates', '*.[^o]', 'x.c', true],
  ['^ negates', '*.[^o]', 'x.o', false],
  // A class may match '/', '*' and '?' never do.
  ['a class takes /', 'a[/]b', 'a/b', true],
  ['a class takes /', 'a[^x]b', 'a/b', true],
  ['* stops at /', '*', 'a/b', false],
  ['* stops at /', '*/*', 'a/b', true],
  ['* stops at /', 'src/*.js', 'src/lib/x.js', false],
  // After a star a run takes the first place it fits (a backtracking regular expression would
  // let '[^x]' take the '/' and match); only the last run is retried until it ends the name.
  ['no backtracking', '*[^x]*c', 'ab/c', false],
  ['no backtracking', '*[^x]*c', 'abc', true],
  ['last run retried', '*.txt', 'a.txt.txt', true],
  ['last run retried', 'a*b', 'abab', true],
  // A star skips bytes, so it may stop inside a multi-byte character; '?' then takes a stray byte.
  ['bytes, not characters', '*????', '☺☺☺', true],
  ['bytes, not characters', '???', '☺☺☺', true],
  ['bytes, not characters', '????', '☺☺☺', false],
  // Escapes, ranges, multi-byte characters, the empty pattern.
  ['escapes', '\\[a\\]', '[a]', true],
  ['escapes', '[\\^]', '^', true],
  ['escapes', '\\☺', '☺', true],
  ['escapes', '[*]', '*', true],
  ['ranges', '[z-a]', 'm', false], // accepted by Go, matches nothing
  ['ranges', '[ä-ü]x', 'öx', true],
  ['ranges', 'ü*', 'über', true],
  ['empty', '', '', true],
  ['empty', '', 'a', false],
];

describe('path.Match rules', () => {
  it.each(RULES)('%s: Match(%j, %j) = %j', (_why, pattern, name, match) => {
    expect(pathMatch(pattern, name)).toBe(match);
    expect(globToRegExp(pattern).test(name)).toBe(match);
  });

  it('finds a malformed part anywhere in the pattern, whatever the name', () => {
    for (const pattern of ['a*[', 'x*[]', '*\\', 'ok/*/[a-', '[^]', '[a-]*']) {
      expect(isValidPattern(pattern)).toBe(false);
      expect(() => pathMatch(pattern, 'zzz')).toThrow(/syntax error in pattern/);
    }
  });
});

describe('globToRegExp', () => {
  it('gives a RegExp whose test() is path.Match of the whole path', () => {
    const re = globToRegExp('src/*.[^o]');
    expect(re).toBeInstanceOf(RegExp);
    expect(['src/a.c', 'src/a.o', 'src/x/a.c', 'src/a.cc'].filter((p) => re.test(p))).toEqual(['src/a.c']);
    expect('src/a.c'.match(re)?.[0]).toBe('src/a.c');
    expect(String(re)).toBe('path.Match("src/*.[^o]")');
  });

  it('names the pattern when it is malformed', () => {
    expect(() => globToRegExp('src/[a')).toThrow('syntax error in pattern "src/[a"');
  });
});

describe('hasWildcard', () => {
  it('sees *, ? and [ outside escapes', () => {
    expect(hasWildcard('a*')).toBe(true);
    expect(hasWildcard('a?')).toBe(true);
    expect(hasWildcard('a[b]')).toBe(true);
    expect(hasWildcard('plain/path.txt')).toBe(false);
    expect(hasWildcard('a\\*b')).toBe(false);
    expect(hasWildcard('a\\\\*')).toBe(true);
    expect(hasWildcard('!a')).toBe(false);
  });
});
