// BuildKit's parser test data: every positive dump byte-equal, every negative case refused,
// plus the heredoc, line-number, word-splitting and JSON facts transcribed from its Go tests.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDockerfile } from '../../src/dockerfile/parser.js';
import { dumpAst, dumpInstruction } from '../../src/dockerfile/dump.js';
import { heredocsFromLine, parseHeredocWord } from '../../src/dockerfile/heredoc.js';
import { parseJsonArray, parseWords } from '../../src/dockerfile/line-parsers.js';
import { DockerfileError } from '../../src/dockerfile/errors.js';
import { toStages } from '../../src/dockerfile/instructions.js';
import { describeSuite } from '../helpers/conformance.js';

describeSuite('buildkit-parser', (dir) => {
  const positive = readdirSync(join(dir, 'testfiles')).sort();
  const negative = readdirSync(join(dir, 'testfiles-negative')).sort();
  const extra = (name: string) => JSON.parse(readFileSync(join(dir, 'extra', name), 'utf8'));

  afterAll(() => {
    console.log(`buildkit-parser: ${positive.length} positive dumps, ${negative.length} negative cases ran`);
  });

  it('has the cases the README promises', () => {
    expect(positive.length).toBe(33);
    expect(negative.length).toBe(4);
  });

  it.each(positive)('testfiles/%s dumps exactly as BuildKit', (name) => {
    const source = readFileSync(join(dir, 'testfiles', name, 'Dockerfile'));
    const expected = readFileSync(join(dir, 'testfiles', name, 'result'), 'utf8');
    expect(dumpAst(parseDockerfile(source))).toBe(expected);
  });

  it.each(negative)('testfiles-negative/%s is refused with file:line', (name) => {
    const source = readFileSync(join(dir, 'testfiles-negative', name, 'Dockerfile'));
    expect(() => parseForBuild(source)).toThrow(DockerfileError);
    expect(() => parseForBuild(source)).toThrow(/^Dockerfile:\d+: /);
  });

  it('line numbers follow testfile-line', () => {
    const facts = extra('line-numbers.json');
    const ast = parseDockerfile(readFileSync(join(dir, 'testfile-line', 'Dockerfile')));
    expect({ startLine: ast.startLine, endLine: ast.endLine }).toEqual(facts.root);
    expect(ast.instructions.map((n) => ({ startLine: n.startLine, endLine: n.endLine }))).toEqual(facts.children);
  });

  describe('extra/heredoc', () => {
    const facts = extra('heredoc/expected.json');
    const ast = parseDockerfile(readFileSync(join(dir, 'extra', 'heredoc', 'Dockerfile')));
    it('has every child', () => expect(ast.instructions.length).toBe(facts.childCount));
    type Child = { index: number; original: string; observedDump: string; heredocs: unknown[] | null };
    it.each<[number, Child]>(facts.children.map((c: Child) => [c.index, c]))('child %i', (index, c) => {
      const node = ast.instructions[index]!;
      expect(node.original).toBe(c.original);
      expect(dumpInstruction(node)).toBe(c.observedDump);
      const heredocs = node.heredocs.map((h) => ({
        Name: h.name, FileDescriptor: h.fileDescriptor, Expand: h.expand, Chomp: h.chomp, Content: h.content,
      }));
      expect(heredocs).toEqual(c.heredocs ?? []);
    });
    it('JSON form RUN ["<<EOF"] has no heredoc', () => {
      const node = parseDockerfile('RUN ["<<EOF"]\n').instructions[0]!;
      expect(node.heredocs).toEqual([]);
    });
  });

  describe('extra/heredoc-words', () => {
    const facts = extra('heredoc-words.json');
    type WordCase = { word: string; kind: string; name?: string };
    type LineCase = { line: string; heredocNames: string[] };
    it.each<[string, WordCase]>(facts.parseHeredoc.map((c: WordCase) => [c.word, c]))('word %j', (word, expected) => {
      if (expected.kind === 'error') expect(() => parseHeredocWord(word)).toThrow();
      else if (expected.kind === 'not-heredoc') expect(parseHeredocWord(word)).toBeUndefined();
      else expect(parseHeredocWord(word)?.name).toBe(expected.name);
    });
    it.each<[string, LineCase]>(facts.heredocsFromLine.map((c: LineCase) => [c.line, c]))('line %j', (line, c) => {
      expect(heredocsFromLine(line).map((h) => h.name)).toEqual(c.heredocNames);
    });
  });

  describe('extra/empty-continuation', () => {
    const facts = extra('empty-continuation/expected.json');
    const ast = parseDockerfile(readFileSync(join(dir, 'extra', 'empty-continuation', 'Dockerfile')));
    it('warns once per instruction with empty continuation lines', () => {
      expect(ast.warnings.length).toBe(facts.warningCount);
      facts.warnings.forEach((w: { shortContains: string[] }, i: number) => {
        for (const part of w.shortContains) expect(ast.warnings[i]!.message).toContain(part);
      });
    });
    it('keeps the whitespace of the joined parts', () => {
      expect(ast.instructions.map(dumpInstruction)).toEqual(facts.observedDumps);
    });
  });

  describe('extra/parse-words', () => {
    const facts: { input: string; expect: string[] }[] = extra('parse-words.json');
    it.each(facts.map((c) => [c.input, c.expect]))('%j', (input, expected) => {
      expect(parseWords(input as string, '\\')).toEqual(expected);
    });
  });

  describe('extra/json-arrays', () => {
    const facts: { valid: { input: string; expect: string[] }[]; notArrayOfStrings: string[] } = extra('json-arrays.json');
    it.each(facts.valid.map((c) => [c.input, c.expect]))('valid %j', (input, expected) => {
      expect(parseJsonArray(input as string)).toEqual(expected);
    });
    it.each(facts.notArrayOfStrings)('refuses %j', (input) => {
      expect(() => parseJsonArray(input)).toThrow(/arrays must be comprised of strings only/);
    });
  });
});

/** What `kiln build` does before building: parse, then type every instruction. */
function parseForBuild(source: Uint8Array): void {
  toStages(parseDockerfile(source));
}
