import { parseDockerfile, MAX_LINE_BYTES } from '../../src/dockerfile/parser.js';
import { dumpAst } from '../../src/dockerfile/dump.js';
import { goQuote } from '../../src/dockerfile/text.js';

const dump = (text: string | Uint8Array) => dumpAst(parseDockerfile(text));

describe('parser line handling', () => {
  it('reads CRLF files and a UTF-8 BOM like LF files', () => {
    expect(dump('\ufeffFROM a\r\nRUN x \\\r\n  y\r\n')).toBe('(from "a")\n(run "x   y")\n');
  });

  it('honours the backtick escape directive and the syntax directive', () => {
    const ast = parseDockerfile('# syntax=docker/dockerfile:1\n# escape=`\nFROM a\nRUN dir c:\\ `\n  && echo hi\n');
    expect(ast.directives).toEqual({ syntax: 'docker/dockerfile:1', escape: '`' });
    expect(ast.escapeToken).toBe('`');
    expect(dumpAst(ast)).toBe('(from "a")\n(run "dir c:\\\\   && echo hi")\n');
  });

  it('stops looking for directives after the first other line', () => {
    const ast = parseDockerfile('\n# escape=`\nFROM a\n');
    expect(ast.escapeToken).toBe('\\');
    expect(ast.directives).toEqual({});
  });

  it('refuses a repeated or invalid directive with its line', () => {
    expect(() => parseDockerfile('# escape=`\n# escape=\\\nFROM a')).toThrow('Dockerfile:2: only one escape parser directive can be used');
    expect(() => parseDockerfile('# escape=x\nFROM a')).toThrow(/Dockerfile:1: invalid escape token 'x'/);
  });

  it('skips comments inside continuations and keeps line ranges', () => {
    const ast = parseDockerfile('FROM a\nRUN one \\\n# note\n  two\nCMD x\n');
    expect(ast.instructions.map((n) => [n.startLine, n.endLine])).toEqual([[1, 1], [2, 4], [5, 5]]);
  });

  it('reads several heredocs in order and ends each at its own delimiter', () => {
    const ast = parseDockerfile('FROM a\nRUN <<A cat - <<B\na\nA\nb\nB\nCMD x\n');
    expect(ast.instructions[1]!.heredocs.map((h) => [h.name, h.content])).toEqual([['A', 'a\n'], ['B', 'b\n']]);
    expect(ast.instructions[1]!.endLine).toBe(6);
    expect(ast.instructions[2]!.startLine).toBe(7);
  });

  it('ONBUILD may carry a heredoc', () => {
    const ast = parseDockerfile('FROM a\nONBUILD RUN <<EOF\necho hi\nEOF\n');
    expect(ast.instructions[1]!.heredocs[0]!.content).toBe('echo hi\n');
  });

  it('keeps exactly the maximum line length BuildKit accepts', () => {
    expect(() => parseDockerfile(`FROM a\nRUN ${'x'.repeat(MAX_LINE_BYTES - 4)}\n`)).not.toThrow();
    expect(() => parseDockerfile(`FROM a\nRUN ${'x'.repeat(MAX_LINE_BYTES - 3)}\n`)).toThrow(
      'Dockerfile:2: dockerfile line greater than max allowed size of 65535',
    );
  });
});

describe('bad input gives one clear error naming file:line', () => {
  const cases: [string, string | Uint8Array, RegExp][] = [
    ['an empty file', '', /^x\.Dockerfile:1: file with no instructions$/],
    ['only comments', '# a\n# b\n\n', /^x\.Dockerfile:3: file with no instructions$/],
    ['binary garbage', Uint8Array.from([0x46, 0x52, 0x0a, 0xff, 0xfe, 0x00, 0x81]), /^x\.Dockerfile:2: the file is not text \(it holds a NUL byte/],
    ['a 10 MB single line', `FROM a\nRUN ${'y'.repeat(10 * 1024 * 1024)}`, /^x\.Dockerfile:2: dockerfile line greater than max allowed size/],
    ['an unterminated heredoc', 'FROM a\nRUN <<EOF\necho\n', /^x\.Dockerfile:2: unterminated heredoc/],
    ['a JSON array of non-strings', 'FROM a\nCMD ["a", ["b"]]\n', /^x\.Dockerfile:2: when using JSON array syntax/],
  ];
  it.each(cases)('%s', (_name, text, message) => {
    expect(() => parseDockerfile(text, { file: 'x.Dockerfile' })).toThrow(message);
  });
});

describe('a Dockerfile that is not UTF-8 (Latin-1) builds as in BuildKit', () => {
  it('reads the bytes that are not UTF-8 as U+FFFD, as docker writes them into the image config, with a warning', () => {
    const latin1 = Uint8Array.from([...Buffer.from('FROM a\n# ok\nLABEL who="Jos'), 0xe9, ...Buffer.from('"\n')]);
    const ast = parseDockerfile(latin1, { file: 'x.Dockerfile' });
    expect(ast.instructions[1]!.args).toEqual(['who', '"Jos\ufffd"', '=']);
    expect(ast.warnings).toEqual([{ line: 3, message: expect.stringMatching(/^the file is not UTF-8: .*save the Dockerfile as UTF-8$/) }]);
  });
});

describe('Go quoting of dump strings', () => {
  it.each([
    ['plain', '"plain"'],
    ['tab\there', '"tab\\there"'],
    ['nul\x00', '"nul\\x00"'],
    ['del\x7f', '"del\\x7f"'],
    ['nbsp\u00a0', '"nbsp\\u00a0"'],
    ['heart ♥', '"heart ♥"'],
    ['emoji 😀', '"emoji 😀"'],
    ['bom \ufeff', '"bom \\ufeff"'],
    ['"q" \\', '"\\"q\\" \\\\"'],
  ])('%j', (input, expected) => {
    expect(goQuote(input)).toBe(expected);
  });
});
