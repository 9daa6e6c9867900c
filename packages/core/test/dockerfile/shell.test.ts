import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { KilnError } from '../../src/errors.js';
import { ShellExpansionError, ShellLex, type EnvLookup } from '../../src/dockerfile/shell.js';
import { describeSuite } from '../helpers/conformance.js';

/** The outcome of an expansion as a value, so a vector's expectation is one comparison. */
function attempt<T>(fn: () => T): { ok: T } | { error: ShellExpansionError } {
  try {
    return { ok: fn() };
  } catch (err) {
    if (err instanceof ShellExpansionError) return { error: err };
    throw err;
  }
}

function expectExpansionError(fn: () => unknown): ShellExpansionError {
  const outcome = attempt(fn);
  if ('ok' in outcome) throw new Error(`expected a ShellExpansionError, got ${JSON.stringify(outcome.ok)}`);
  expect(outcome.error).toBeInstanceOf(KilnError);
  return outcome.error;
}

const sorted = (set: Set<string>): string[] => [...set].sort();

describeSuite('buildkit-shell', (dir) => {
  // ---- envVarTest: PLATFORM|INPUT|EXPECTED, ProcessWord ------------------------------------
  describe('envVarTest (ProcessWord)', () => {
    interface EnvVarCase { line: number; platform: string; input: string; expected: string }
    const cases: EnvVarCase[] = [];
    readFileSync(join(dir, 'envVarTest'), 'utf8')
      .split('\n')
      .forEach((raw, index) => {
        if (raw.startsWith('#') || raw.trim() === '') return;
        const fields = raw.split('|');
        if (fields.length !== 3) throw new Error(`envVarTest:${index + 1}: expected 3 fields, got ${fields.length}`);
        const [platform, input, expected] = fields.map((f) => f.trim()) as [string, string, string];
        cases.push({ line: index + 1, platform, input, expected });
      });
    const unix = cases.filter((c) => c.platform === 'A' || c.platform === 'U');
    const windows = cases.filter((c) => c.platform === 'W');
    const env: EnvLookup = new Map([
      ['PWD', '/home'],
      ['SHELL', 'bash'],
      ['KOREAN', '한국어'],
      ['NULL', ''],
    ]);
    const lex = new ShellLex('\\');
    let ran = 0;
    afterAll(() => console.log(`buildkit-shell/envVarTest: ${ran} of ${unix.length} A+U cases ran (${windows.length} W-only lines skipped)`));

    it('parses every A and U line (228 per the README)', () => {
      expect(unix.length).toBe(228);
      expect(cases.length).toBe(unix.length + windows.length);
    });

    for (const c of unix) {
      it(`line ${c.line} [${c.platform}]: ${c.input} -> ${c.expected === 'error' ? 'error' : JSON.stringify(c.expected)}`, () => {
        ran++;
        if (c.expected === 'error') expectExpansionError(() => lex.processWord(c.input, env));
        else expect(attempt(() => lex.processWord(c.input, env))).toEqual({ ok: c.expected });
      });
    }
    for (const c of windows) it.skip(`line ${c.line} [W, Windows-only]: ${c.input}`, () => undefined);
  });

  // ---- wordsTest: INPUT | WORD,WORD..., ProcessWords with cumulative ENV lines -------------
  describe('wordsTest (ProcessWords)', () => {
    interface WordsCase { line: number; input: string; expected: string[]; env: Map<string, string> }
    const cases: WordsCase[] = [];
    const env = new Map<string, string>();
    readFileSync(join(dir, 'wordsTest'), 'utf8')
      .split('\n')
      .forEach((raw, index) => {
        if (raw.startsWith('#') || raw === '') return;
        if (raw.startsWith('ENV ')) {
          const entry = raw.slice(4).replace(/^ +/, '');
          const eq = entry.indexOf('=');
          if (eq < 0) env.set(entry, '');
          else env.set(entry.slice(0, eq), entry.slice(eq + 1));
          return;
        }
        const fields = raw.split('|');
        if (fields.length !== 2) throw new Error(`wordsTest:${index + 1}: expected 2 fields, got ${fields.length}`);
        const input = fields[0]!.trim();
        const expected = fields[1]!.replace(/^ +/, '').split(',');
        cases.push({ line: index + 1, input, expected, env: new Map(env) });
      });
    const lex = new ShellLex('\\');
    let ran = 0;
    afterAll(() => console.log(`buildkit-shell/wordsTest: ${ran} of ${cases.length} cases ran`));

    it('found the vectors', () => expect(cases.length).toBeGreaterThan(20));

    for (const c of cases) {
      const isError = c.expected.length === 1 && c.expected[0] === 'error';
      it(`line ${c.line}: ${c.input} -> ${isError ? 'error' : JSON.stringify(c.expected)}`, () => {
        ran++;
        if (isError) expectExpansionError(() => lex.processWords(c.input, c.env));
        else expect(attempt(() => lex.processWords(c.input, c.env))).toEqual({ ok: c.expected });
      });
    }
  });

  // ---- process-word.json: ProcessWordWithMatches tables from lex_test.go -------------------
  describe('process-word.json (ProcessWordWithMatches)', () => {
    interface JsonCase {
      input: string;
      envs: Record<string, string>;
      expected?: string;
      error?: boolean;
      matched?: string[];
      unmatched?: string[];
      errorContains?: string;
      source: string;
    }
    const cases = JSON.parse(readFileSync(join(dir, 'process-word.json'), 'utf8')) as JsonCase[];
    const lex = new ShellLex('\\');
    let ran = 0;
    afterAll(() => console.log(`buildkit-shell/process-word.json: ${ran} of ${cases.length} cases ran`));

    it('found the vectors', () => expect(cases.length).toBeGreaterThan(50));

    cases.forEach((c, index) => {
      const env = new Map(Object.entries(c.envs));
      const outcome = c.error ? `error${c.errorContains ? ` containing ${JSON.stringify(c.errorContains)}` : ''}` : JSON.stringify(c.expected);
      it(`#${index} ${c.source.replace(/^lex_test\.go:/, '')}: ${c.input} with ${JSON.stringify(c.envs)} -> ${outcome}`, () => {
        ran++;
        if (c.error) {
          const err = expectExpansionError(() => lex.processWordWithMatches(c.input, env));
          if (c.errorContains !== undefined) expect(err.message).toContain(c.errorContains);
          return;
        }
        const result = attempt(() => lex.processWordWithMatches(c.input, env));
        if (!('ok' in result)) throw result.error;
        expect(result.ok.result).toBe(c.expected);
        if (c.matched) expect(sorted(result.ok.matched)).toEqual(c.matched);
        if (c.unmatched) expect(sorted(result.ok.unmatched)).toEqual(c.unmatched);
      });
    });
  });
});

// ---- behaviours the vectors do not cover --------------------------------------------------

describe('ShellLex with the backtick escape token', () => {
  const lex = new ShellLex('`');
  const env = new Map([
    ['foo', 'bar'],
    ['DIR', 'C:\\Program Files'],
  ]);

  it.each([
    ['`$foo', '$foo'], // escaped dollar stays literal
    ['$foo', 'bar'],
    ['a`b', 'ab'], // unquoted escape removes itself
    ['he`\'llo', "he'llo"],
    ['C:\\Windows\\system32', 'C:\\Windows\\system32'], // backslash is an ordinary character
    ['"a`"b"', 'a"b'], // in double quotes it escapes " ...
    ['"`$foo"', '$foo'], // ... and $ ...
    ['"``"', '`'], // ... and itself
    ['"a`b"', 'a`b'], // ... and nothing else
    ["'`$foo'", '`$foo'], // single quotes are fully literal
    ['${DIR}\\app', 'C:\\Program Files\\app'],
    ['${nope:-`}}', '}'], // escaped brace inside a default
    ['trailing`', 'trailing'],
  ])('%s -> %s', (input, expected) => {
    expect(lex.processWord(input, env)).toBe(expected);
  });

  it('splits words on unescaped whitespace only', () => {
    expect(lex.processWords('a` b c', env)).toEqual(['a b', 'c']);
  });

  it('reports an unterminated double quote whose closing quote is escaped', () => {
    expectExpansionError(() => lex.processWord('"abc`"', env));
  });

  it('keeps the backslash of a pattern escape (patterns always use backslash)', () => {
    const stars = new Map([['V', 'a**b']]);
    expect(lex.processWord('${V%\\*b}', stars)).toBe('a*');
    expect(lex.processWord('${V%%\\**}', stars)).toBe('a');
  });
});

describe('ShellLex.processWords field splitting', () => {
  const lex = new ShellLex();
  const env = new Map([
    ['LIST', ' one  two\tthree '],
    ['EMPTY', ''],
  ]);

  it.each<[string, string[]]>([
    ['a b   c', ['a', 'b', 'c']],
    ['  lead and trail  ', ['lead', 'and', 'trail']],
    ['$LIST', ['one', 'two', 'three']],
    ['x${LIST}y', ['x', 'one', 'two', 'three', 'y']],
    ['"$LIST"', [' one  two\tthree ']],
    ["'$LIST'", ['$LIST']],
    ['"a b" c', ['a b', 'c']],
    ["'a b'c d", ['a bc', 'd']],
    ['a\\ b', ['a b']],
    ['pre"$LIST"post', ['pre one  two\tthree post']],
    ['$EMPTY', []],
    ['a "" b', ['a', 'b']], // an empty quoted word vanishes, as in BuildKit
    ['${EMPTY:-x y}', ['x', 'y']],
    ['"${EMPTY:-x y}"', ['x y']],
    ['cat <<  EOF > out', ['cat', '<<  EOF', '>', 'out']], // blanks after << stay in the word
    ['a << -EOF', ['a', '<< -EOF']],
    ['a <<- EOF', ['a', '<<-', 'EOF']],
    ['x < y', ['x', '<', 'y']],
    ['"<<  A"', ['<<  A']],
  ])('%j -> %j', (input, expected) => {
    expect(lex.processWords(input, env)).toEqual(expected);
  });

  it('fails on an unterminated quote', () => {
    expectExpansionError(() => lex.processWords('a "b c', env));
  });
});

describe('ShellLex details', () => {
  const lex = new ShellLex();

  it('accepts a lookup function; undefined means unset', () => {
    const env = (name: string): string | undefined => (name === 'A' ? 'x' : undefined);
    const r = lex.processWordWithMatches('$A ${B:-b} ${A:+set}', env);
    expect(r).toEqual({ result: 'x b set', matched: new Set(['A']), unmatched: new Set(['B']) });
  });

  it('names the variable and message of ${VAR?msg} and ${VAR:?}', () => {
    const env = new Map([['EMPTY', '']]);
    expect(expectExpansionError(() => lex.processWord('${MISSING?set it please}', env)).message).toContain('MISSING: set it please');
    expect(expectExpansionError(() => lex.processWord('${MISSING?}', env)).message).toContain('MISSING: is not allowed to be unset');
    expect(expectExpansionError(() => lex.processWord('${EMPTY:?}', env)).message).toContain('EMPTY: is not allowed to be empty');
  });

  it.each([
    ['${X:=y}', 'unsupported modifier (:=)'],
    ['${X', "missing '}'"],
    ['${X:-abc', "missing '}'"],
    ['${X/a', "missing '/'"],
    ['${}', 'bad substitution'],
    ["'abc", 'single-quote'],
    ['"abc', 'double-quote'],
    ['${X#\\a}', 'invalid escape'],
  ])('%s fails with a message containing %j', (input, fragment) => {
    const err = expectExpansionError(() => lex.processWord(input, new Map([['X', 'abc']])));
    expect(err.message).toContain(fragment);
    expect(err.message).toContain(JSON.stringify(input));
  });

  it.each([
    ['${P#*/}', 'b/c.tar.gz'],
    ['${P##*/}', 'c.tar.gz'],
    ['${P%.*}', 'a/b/c.tar'],
    ['${P%%.*}', 'a/b/c'],
    ['${P#[a]}', 'a/b/c.tar.gz'], // no bracket expressions: `[a]` is literal
    ['${P/?/X}', 'X/b/c.tar.gz'],
    ['${P//\\//_}', 'a_b_c.tar.gz'],
    ['${P//*/x}', 'x'], // Go's ReplaceAll: no second replacement of the empty match at the end
    ['${P//[.]/x}', 'a/b/c.tar.gz'],
    ["${P//./'<$0>'}", 'a/b/c<.>tar<.>gz'], // Go template: $0 is the match
    ["${P/a/'$$'}", '$$/b/c.tar.gz'], // first-match replacement is literal
    ["${P//a/'$$'}", '$/b/c.t$r.gz'], // Go template: $$ is $
    ["${P//a/'$x'}", '/b/c.tr.gz'], // Go template: unknown group is empty
  ])('%s -> %s', (input, expected) => {
    expect(lex.processWord(input, new Map([['P', 'a/b/c.tar.gz']]))).toBe(expected);
  });

  it('matches a Unicode value by code points', () => {
    expect(lex.processWord('${K#?}', new Map([['K', '😀x']]))).toBe('x');
    expect(lex.processWord('${K%?}', new Map([['K', 'x😀']]))).toBe('x');
  });

  it('keeps unset references as written with skipUnsetEnv', () => {
    const skip = new ShellLex('\\', { skipUnsetEnv: true });
    const env = new Map([['SET', 'v']]);
    expect(skip.processWord('$SET $UNSET ${UNSET} ${UNSET:-d} ${SET:-d}', env)).toBe('v $UNSET ${UNSET} ${UNSET:-d} v');
  });

  it('keeps quotes and escapes with rawQuotes and rawEscapes', () => {
    const raw = new ShellLex('\\', { rawQuotes: true, rawEscapes: true });
    expect(raw.processWords(`a\\ b "c d" 'e'`, new Map())).toEqual(['a\\ b', '"c d"', "'e'"]);
  });

  it('rejects an escape token other than \\ or `', () => {
    expect(() => new ShellLex('x' as never)).toThrow(TypeError);
  });
});
