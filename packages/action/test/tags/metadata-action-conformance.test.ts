// docker/metadata-action's own test tables (transcribed into JSON): every case through the API the
// GitHub Action uses, with upstream's harness: the GitHub context from the .env fixture, repo.json as
// the repository, and the clock fixed at 2020-01-10T00:30:00.000Z (upstream mocks moment() and
// Date#toISOString to that instant, so both {{date}} and {{commit_date}} show it).
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { KilnError } from '@kiln/core';
import {
  DEFAULT_METADATA_INPUTS,
  bakeAnnotationsFile,
  bakeLabelsFile,
  bakeTagsFile,
  bakeTagsLabelsFile,
  computeMetadata,
  githubContextFromEnv,
  isRawStatement,
  metadataJson,
  metadataOptionsFromEnv,
  metadataOutputs,
  parseFlavor,
  parseImages,
  parseTagRule,
  parseTagRules,
  repoInfoFromGitHubRepository,
  type MetadataInputs,
  type MetadataResult,
  type TagRule,
} from '../../src/tags/index.js';
import { describeSuite } from '../../../core/test/helpers/conformance.js';

const FIXED_INSTANT = new Date('2020-01-10T00:30:00.000Z');

interface MetaCase {
  name: string;
  envFile: string;
  extraEnv?: Record<string, string>;
  inputs: MetadataInputs;
}

describeSuite('metadata-action', (dir) => {
  const load = <T>(name: string): T => JSON.parse(readFileSync(join(dir, name), 'utf8')) as T;
  const repo = repoInfoFromGitHubRepository(load('fixtures/repo.json'));
  const passed = new Map<string, number>();
  const totals = new Map<string, number>();
  const pass = (file: string) => passed.set(file, (passed.get(file) ?? 0) + 1);

  afterAll(() => {
    for (const [file, total] of totals) console.log(`metadata-action: ${file} ${passed.get(file) ?? 0}/${total}`);
  });

  /** Runs one case the way the Action will: env -> context, env switches -> options, inputs over the defaults. */
  function run(c: MetaCase): MetadataResult {
    const env = { ...parseDotenv(readFileSync(join(dir, 'fixtures', c.envFile), 'utf8')), ...c.extraEnv };
    // The fixtures point at ./__tests__/fixtures/<x>.json, relative to upstream's repository root.
    if (env.GITHUB_EVENT_PATH) env.GITHUB_EVENT_PATH = join(dir, 'fixtures', basename(env.GITHUB_EVENT_PATH));
    const ctx = githubContextFromEnv(env);
    const inputs = { ...DEFAULT_METADATA_INPUTS, ...c.inputs };
    return computeMetadata(inputs, ctx, repo, { now: FIXED_INSTANT, commitDate: FIXED_INSTANT }, metadataOptionsFromEnv(env));
  }

  /** Registers the cases of one file and checks the README's count. */
  function cases<T>(file: string, list: T[], expectedCount: number): T[] {
    totals.set(file, list.length);
    it(`${file} has the ${expectedCount} cases the README promises`, () => expect(list.length).toBe(expectedCount));
    return list;
  }

  describe('meta-tags-labels', () => {
    interface Case extends MetaCase {
      group: string;
      expected: {
        version: { main: string | null; partial: string[]; latest: boolean };
        tags: string[];
        labels: string[];
        annotations: string[];
      };
    }
    const list = cases('meta-tags-labels', load<Case[]>('meta-tags-labels.json'), 114);
    it.each(list.map((c) => [`${c.group}/${c.name}`, c] as const))('%s', (_, c) => {
      const result = run(c);
      expect(result.version).toEqual({ ...c.expected.version, main: c.expected.version.main ?? undefined });
      expect(result.tags).toEqual(c.expected.tags);
      expect(result.labels).toEqual(c.expected.labels);
      expect(result.annotations).toEqual(c.expected.annotations);
      pass('meta-tags-labels');
    });
  });

  describe('meta-json', () => {
    interface Case extends MetaCase {
      expectedGetJSON_manifest: unknown;
    }
    const list = cases('meta-json', load<Case[]>('meta-json.json'), 7);
    it.each(list.map((c) => [c.name, c] as const))('%s', (_, c) => {
      const result = run(c);
      expect(metadataJson(result, ['manifest'])).toEqual(c.expectedGetJSON_manifest);
      // The Action's `json` output is the same object, serialized.
      expect(JSON.parse(metadataOutputs(result, c.inputs, ['manifest']).json)).toEqual(c.expectedGetJSON_manifest);
      pass('meta-json');
    });
  });

  describe('meta-bake', () => {
    interface Case extends MetaCase {
      kind: 'getBakeFile' | 'getBakeFileTagsLabels';
      expected: Record<string, unknown>;
    }
    const list = cases('meta-bake', load<Case[]>('meta-bake.json'), 8);
    it.each(list.map((c) => [c.name, c] as const))('%s', (_, c) => {
      const result = run(c);
      const target = c.inputs.bakeTarget ?? DEFAULT_METADATA_INPUTS.bakeTarget;
      // JSON round trip: the Action writes these files with JSON.stringify, which drops undefined.
      const written = (definition: unknown) => JSON.parse(JSON.stringify(definition));
      if (c.kind === 'getBakeFile') {
        expect(Object.keys(c.expected).sort()).toEqual(['annotations:index,manifest-descriptor', 'labels', 'tags']);
        expect(written(bakeTagsFile(result, target))).toEqual(c.expected.tags);
        expect(written(bakeLabelsFile(result, target))).toEqual(c.expected.labels);
        expect(written(bakeAnnotationsFile(result, target, ['index', 'manifest-descriptor']))).toEqual(
          c.expected['annotations:index,manifest-descriptor'],
        );
      } else {
        expect(written(bakeTagsLabelsFile(result, target))).toEqual(c.expected);
      }
      pass('meta-bake');
    });
  });

  describe('meta-septags', () => {
    interface Case extends MetaCase {
      expectedJoinedTags: string;
    }
    const list = cases('meta-septags', load<Case[]>('meta-septags.json'), 2);
    it.each(list.map((c) => [c.name, c] as const))('%s', (_, c) => {
      expect(metadataOutputs(run(c), c.inputs).tags).toBe(c.expectedJoinedTags);
      pass('meta-septags');
    });
  });

  describe('is-raw-statement', () => {
    const list = cases('is-raw-statement', load<{ pattern: string; isRaw: boolean }[]>('is-raw-statement.json'), 5);
    it.each(list.map((c) => [c.pattern, c] as const))('%s', (_, c) => {
      expect(isRawStatement(c.pattern)).toBe(c.isRaw);
      pass('is-raw-statement');
    });
  });

  describe('tag-expressions', () => {
    interface UpstreamTag {
      type: string;
      attrs: Record<string, string>;
    }
    const file = load<{
      parse: { input: string; expected: UpstreamTag; invalid: boolean }[];
      transform: { inputs: string[]; expected: UpstreamTag[]; invalid: boolean }[];
    }>('tag-expressions.json');
    const parseCases = cases('tag-expressions (parse)', file.parse, 31);
    const transformCases = cases('tag-expressions (transform)', file.transform, 1);

    it.each(parseCases.map((c) => [c.input, c] as const))('parse %s', (_, c) => {
      if (c.invalid) expect(() => parseTagRule(c.input)).toThrow(KilnError);
      else expect(upstreamShape(parseTagRule(c.input))).toEqual(c.expected);
      pass('tag-expressions (parse)');
    });

    it.each(transformCases.map((c, i) => [i, c] as const))('transform %d', (_, c) => {
      expect(parseTagRules(c.inputs).map(upstreamShape)).toEqual(c.expected);
      pass('tag-expressions (transform)');
    });

    /** Upstream's Tag: the type plus every attribute as a string (our rules keep the same names). */
    function upstreamShape(rule: TagRule): UpstreamTag {
      const { type, source: _source, ...attributes } = rule;
      const attrs = Object.entries(attributes).filter(([, value]) => value !== undefined);
      return { type, attrs: Object.fromEntries(attrs.map(([key, value]) => [key, String(value)])) };
    }
  });

  describe('flavor', () => {
    const list = cases('flavor', load<{ inputs: string[]; expected: unknown; invalid: boolean }[]>('flavor.json'), 14);
    it.each(list.map((c) => [c.inputs.join(' | '), c] as const))('%s', (_, c) => {
      if (c.invalid) expect(() => parseFlavor(c.inputs)).toThrow(KilnError);
      else expect(parseFlavor(c.inputs)).toEqual(c.expected);
      pass('flavor');
    });
  });

  describe('images', () => {
    const list = cases('images', load<{ inputs: string[]; expected: unknown; invalid: boolean }[]>('images.json'), 9);
    it.each(list.map((c) => [c.inputs.join(' | '), c] as const))('%s', (_, c) => {
      if (c.invalid) expect(() => parseImages(c.inputs)).toThrow(KilnError);
      else expect(parseImages(c.inputs)).toEqual(c.expected);
      pass('images');
    });
  });
});

/**
 * The subset of dotenv's format the fixtures use: KEY=VALUE lines, `#` comment lines, and (as
 * dotenv does for unquoted values) a value ends at the first `#`, so
 * `GITHUB_REF=refs/heads/my/feature#1245` reads as `refs/heads/my/feature`.
 */
function parseDotenv(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const match = /^\s*([\w.-]+)\s*=(.*)$/.exec(line);
    if (!match) continue;
    const [, key = '', rest = ''] = match;
    env[key] = rest.replace(/#.*$/, '').trim();
  }
  return env;
}
