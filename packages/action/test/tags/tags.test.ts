// The tags/ room beyond upstream's tables: messages for bad input, the context and repository
// readers, the environment switches, and the promise that library code never prints.
import { jest } from '@jest/globals';
import { KilnError } from '@kiln/core';
import {
  MetadataInputError,
  annotationLevelsFromEnv,
  commitDateFromPayload,
  computeMetadata,
  githubContextFromEnv,
  metadataOptionsFromEnv,
  parseFlavor,
  parseImages,
  parseTagRule,
  parseTagRules,
  repoInfoFromPayload,
  splitInputList,
  type GitHubContext,
  type MetadataInputs,
  type RepoInfo,
} from '../../src/tags/index.js';

const SHA = '860c1904a1ce19322e91ac35af1ab07466440c37';
const NOW = new Date('2020-01-10T00:30:00.000Z');
const clock = { now: NOW, commitDate: NOW };
const repo: RepoInfo = {
  name: 'app',
  description: 'An app',
  license: 'MIT',
  htmlUrl: 'https://github.com/org/app',
  defaultBranch: 'main',
};

function context(env: NodeJS.ProcessEnv, payload: object = {}): GitHubContext {
  return githubContextFromEnv({ GITHUB_EVENT_PATH: '/event.json', ...env }, { readFile: () => JSON.stringify(payload) });
}

const pushToMain = context({ GITHUB_EVENT_NAME: 'push', GITHUB_REF: 'refs/heads/main', GITHUB_SHA: SHA });

function tagsFor(inputs: MetadataInputs, ctx = pushToMain): string[] {
  return computeMetadata(inputs, ctx, repo, clock).tags;
}

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(KilnError);
    return (err as Error).message;
  }
  throw new Error('expected a KilnError');
}

describe('bad input names the input, the line and the fix', () => {
  it.each([
    ['type=semvr,pattern={{version}}', 'tags: "type=semvr,pattern={{version}}": unknown type "semvr" (use schedule, semver, pep440, match, edge, ref, raw or sha)'],
    ['type=semver', 'tags: "type=semver": type=semver needs a pattern, e.g. pattern={{version}}'],
    ['type=ref,event=push', 'tags: "type=ref,event=push": unknown event "push" (use branch, tag or pr)'],
    ['type=sha,format=medium', 'tags: "type=sha,format=medium": unknown format "medium" (use short or long)'],
    ['type=sha,lenght=8', 'tags: "type=sha,lenght=8": type=sha has no attribute "lenght" (use priority, enable, prefix, suffix or format)'],
    ['type=sha,foo', 'tags: "type=sha,foo": type=sha takes no value, but "foo" is given'],
    ['type=raw,a,b', 'tags: "type=raw,a,b": value is given twice'],
    ['type=raw,x,priority=high', 'tags: "type=raw,x,priority=high": priority "high" is not a whole number (rules with a higher priority come first)'],
    ['type=match,pattern=v(.*),group=one', 'tags: "type=match,pattern=v(.*),group=one": group "one" is not a capture group number (use e.g. group=1; group=0 is the whole match)'],
  ])('tags %s', (line, message) => {
    expect(messageOf(() => parseTagRule(line))).toBe(message);
  });

  it('an invalid regular expression and a semver match without a group', () => {
    expect(messageOf(() => parseTagRule('type=match,"pattern=v(\\d"'))).toMatch(/^tags: .*: pattern "v\(\\d" is not a valid regular expression \(/);
    expect(messageOf(() => parseTagRule('type=semver,pattern={{version}},match=v\\d'))).toMatch(/: match "v\\d" has no capture group; /);
  });

  it('a CSV error says how to quote', () => {
    expect(messageOf(() => parseTagRule('type=raw,{{x "y"}}'))).toMatch(
      /^tags: .*: not a valid comma-separated list \(.*\); put a field that holds commas or quotes in double quotes/,
    );
  });

  it('flavor and images', () => {
    expect(messageOf(() => parseFlavor(['latest=maybe']))).toBe('flavor: "latest=maybe": latest must be auto, true or false, not "maybe"');
    expect(messageOf(() => parseFlavor(['onlatest=true,prefix=x-']))).toBe(
      'flavor: "onlatest=true,prefix=x-": onlatest must follow prefix=... or suffix=... on the same line',
    );
    expect(messageOf(() => parseImages(['org/app', 'ghcr.io/org/app,push=true']))).toBe(
      'images: "ghcr.io/org/app,push=true": unknown image attribute "push" (use name or enable)',
    );
  });

  it('enable must come out as true or false', () => {
    expect(messageOf(() => tagsFor({ tags: ['type=raw,x,enable=yes'] }))).toBe('tags: "type=raw,x,enable=yes": enable must be true or false, not "yes"');
    expect(messageOf(() => tagsFor({ tags: ['type=raw,x,enable={{branch}}'] }))).toBe(
      'tags: "type=raw,x,enable={{branch}}": enable must be true or false, but "{{branch}}" gives "main"',
    );
  });

  it('expressions that cannot be evaluated', () => {
    expect(messageOf(() => tagsFor({ tags: ["type=raw,value={{date 'YYYY' tz='Mars/Olympus'}}"] }))).toBe(
      `tags: "type=raw,value={{date 'YYYY' tz='Mars/Olympus'}}": cannot evaluate "{{date 'YYYY' tz='Mars/Olympus'}}": ` +
        `unknown time zone "Mars/Olympus" (use an IANA name such as tz='Europe/Paris')`,
    );
    expect(messageOf(() => tagsFor({ tags: ["type=raw,value={{date 'YYYY' zone='UTC'}}"] }))).toMatch(/\{\{date\}\} has no attribute "zone"/);
    expect(messageOf(() => tagsFor({ tags: ['type=raw,value={{branch'] }))).toMatch(/^tags: "type=raw,value=\{\{branch": cannot evaluate /);
    expect(messageOf(() => tagsFor({ labels: ['x={{nope 1}}'] }))).toMatch(/^labels: "x=\{\{nope 1\}\}": cannot evaluate .*Missing helper/);
    expect(messageOf(() => tagsFor({ flavor: ['prefix={{branch'], tags: ['type=raw,x'] }))).toMatch(/^flavor: "prefix=\{\{branch": cannot evaluate /);
  });

  it('errors are MetadataInputErrors carrying the input and line', () => {
    const line = 'type=ref';
    try {
      parseTagRule(line);
    } catch (err) {
      expect(err).toBeInstanceOf(MetadataInputError);
      expect(err).toMatchObject({ input: 'tags', line });
    }
    expect.assertions(2);
  });
});

describe('the clock', () => {
  it('the created label can come from another instant than {{date}} (the Action uses the commit time)', () => {
    const commit = new Date('2019-12-31T23:00:00.000Z');
    const result = computeMetadata({ tags: ["type=raw,value={{date 'YYYYMMDD'}}"] }, pushToMain, repo, { now: NOW, commitDate: commit, created: commit });
    expect(result.tags).toEqual(['20200110']);
    expect(result.labels).toContain('org.opencontainers.image.created=2019-12-31T23:00:00.000Z');
  });
});

describe('what upstream only logs comes back as warnings', () => {
  it('a value that is no version, a pattern that does not match, a label that is not key=value', () => {
    const ctx = context({ GITHUB_EVENT_NAME: 'push', GITHUB_REF: 'refs/tags/release-x', GITHUB_SHA: SHA });
    const result = computeMetadata(
      { tags: ['type=semver,pattern={{version}}', 'type=match,pattern=v(\\d+)', 'type=ref,event=tag'], labels: ['novalue'] },
      ctx,
      repo,
      clock,
    );
    expect(result.tags).toEqual(['release-x', 'latest']);
    expect(result.warnings).toEqual([
      'tags: "type=semver,pattern={{version}}": "release-x" is not a semantic version, so this rule gives no tag (see https://semver.org/)',
      'tags: "type=match,pattern=v(\\\\d+)": pattern "v(\\d+)" does not match "release-x"',
      'labels: "novalue": not key=value, so it is ignored',
    ]);
  });

  it('type=edge without a known default branch', () => {
    const result = computeMetadata({ tags: ['type=edge'] }, pushToMain, { ...repo, defaultBranch: '' }, clock);
    expect(result.tags).toEqual([]);
    expect(result.warnings[0]).toMatch(/default branch is unknown.*type=edge,branch=main/);
  });

  it('nothing is printed, whatever the templates do', () => {
    const spies = (['log', 'info', 'warn', 'error', 'debug'] as const).map((name) => jest.spyOn(console, name).mockImplementation(() => undefined));
    try {
      computeMetadata({ tags: ['type=raw,"value=a{{log ""hi""}}{{constructor}}{{branch.constructor}}b"', 'type=semver,pattern={{version}}'] }, pushToMain, repo, clock);
      expect(() => tagsFor({ tags: ["type=raw,{{date 'YYYY' tz='Nowhere'}}"] })).toThrow(KilnError);
      for (const spy of spies) expect(spy).not.toHaveBeenCalled();
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
  });
});

describe('splitInputList', () => {
  it('keeps quotes and infix #, drops blank and comment lines', () => {
    const input = 'type=match,"pattern=\\d{1,3}",group=0\n\n  # a comment\r\ntype=raw,value=foo#bar  \n';
    expect(splitInputList(input)).toEqual(['type=match,"pattern=\\d{1,3}",group=0', 'type=raw,value=foo#bar']);
    expect(parseTagRule(splitInputList(input)[0]!)).toMatchObject({ type: 'match', pattern: '\\d{1,3}', group: 0 });
  });
});

describe('tag rules', () => {
  it('an expression with "=" can be a bare value', () => {
    expect(tagsFor({ tags: ["type=raw,{{date 'YYYYMMDD-HHmm' tz='Asia/Tokyo'}}"] })).toEqual(['20200110-0930']);
  });

  it('blank lines are skipped, and only blank lines mean the default rules', () => {
    expect(parseTagRules(['', '  ']).map((rule) => rule.source)).toEqual([
      'type=schedule',
      'type=ref,event=branch',
      'type=ref,event=tag',
      'type=ref,event=pr',
    ]);
    expect(parseTagRules(['type=sha', '']).map((rule) => rule.type)).toEqual(['sha']);
  });

  it('flavor prefix and suffix expressions also apply to latest with onlatest', () => {
    const ctx = context({ GITHUB_EVENT_NAME: 'push', GITHUB_REF: 'refs/tags/v1.2.3', GITHUB_SHA: SHA });
    const tags = tagsFor({ tags: ['type=semver,pattern={{version}}'], flavor: ['prefix={{sha}}-,onlatest=true'] }, ctx);
    expect(tags).toEqual(['860c190-1.2.3', '860c190-latest']);
  });
});

describe('githubContextFromEnv', () => {
  it('applies the defaults of an empty environment', () => {
    expect(githubContextFromEnv({})).toEqual({
      eventName: '',
      sha: '',
      ref: '',
      workflow: '',
      action: '',
      actor: '',
      job: '',
      runNumber: 0,
      runId: 0,
      runAttempt: 1,
      repo: { owner: 'docker', repo: 'repo' },
      payload: {},
    });
  });

  it('uses the merge ref for pull_request_target', () => {
    const ctx = context({ GITHUB_EVENT_NAME: 'pull_request_target', GITHUB_REF: 'refs/heads/main', GITHUB_REPOSITORY: 'org/app' }, { number: 42 });
    expect(ctx.ref).toBe('refs/pull/42/merge');
    expect(ctx.repo).toEqual({ owner: 'org', repo: 'app' });
  });

  it('treats a missing payload file as no payload and rejects one that is not JSON', () => {
    expect(githubContextFromEnv({ GITHUB_EVENT_PATH: '/nonexistent/kiln/event.json' }).payload).toEqual({});
    expect(messageOf(() => githubContextFromEnv({ GITHUB_EVENT_PATH: '/e.json' }, { readFile: () => '{oops' }))).toMatch(
      /^GITHUB_EVENT_PATH: the event payload "\/e\.json" is not valid JSON \(/,
    );
  });
});

describe('repoInfoFromPayload', () => {
  it('reads the payload repository', () => {
    const payload = {
      repository: { name: 'app', description: null, license: { spdx_id: 'Apache-2.0' }, html_url: 'https://ghe.example/org/app', default_branch: 'trunk' },
    };
    const ctx = context({ GITHUB_REPOSITORY: 'org/app' }, payload);
    expect(repoInfoFromPayload(ctx, {})).toEqual({
      name: 'app',
      description: '',
      license: 'Apache-2.0',
      htmlUrl: 'https://ghe.example/org/app',
      defaultBranch: 'trunk',
    });
  });

  it('falls back to GITHUB_SERVER_URL and GITHUB_REPOSITORY', () => {
    const ctx = context({ GITHUB_REPOSITORY: 'org/app' }, { schedule: '0 0 * * *' });
    expect(repoInfoFromPayload(ctx, { GITHUB_SERVER_URL: 'https://ghe.example/' })).toEqual({
      name: 'app',
      description: '',
      license: undefined,
      htmlUrl: 'https://ghe.example/org/app',
      defaultBranch: '',
    });
  });
});

describe('commitDateFromPayload', () => {
  const env = { GITHUB_SHA: SHA };
  it('takes the pushed commit, else head_commit when it is the same commit', () => {
    const commits = [{ id: 'other', timestamp: '2021-01-01T00:00:00Z' }, { id: SHA, timestamp: '2022-04-19T11:27:24+02:00' }];
    expect(commitDateFromPayload(context(env, { commits }))).toEqual(new Date('2022-04-19T09:27:24Z'));
    expect(commitDateFromPayload(context(env, { head_commit: { id: SHA, timestamp: '2023-01-01T00:00:00Z' } }))).toEqual(
      new Date('2023-01-01T00:00:00Z'),
    );
  });

  it('is undefined when the payload does not say', () => {
    expect(commitDateFromPayload(context(env, {}))).toBeUndefined();
    expect(commitDateFromPayload(context(env, { head_commit: { id: 'other', timestamp: '2023-01-01T00:00:00Z' } }))).toBeUndefined();
  });
});

describe('environment switches', () => {
  it('DOCKER_METADATA_SHORT_SHA_LENGTH', () => {
    const options = metadataOptionsFromEnv({ DOCKER_METADATA_SHORT_SHA_LENGTH: '12' });
    expect(computeMetadata({ tags: ['type=sha', 'type=raw,{{sha}}'] }, pushToMain, repo, clock, options).tags).toEqual([
      '860c1904a1ce',
      'sha-860c1904a1ce',
    ]);
    expect(messageOf(() => metadataOptionsFromEnv({ DOCKER_METADATA_SHORT_SHA_LENGTH: 'seven' }))).toBe(
      'DOCKER_METADATA_SHORT_SHA_LENGTH: "seven" is not a positive whole number (unset it for the default, 7)',
    );
  });

  it('DOCKER_METADATA_PR_HEAD_SHA and DOCKER_METADATA_ANNOTATIONS_LEVELS', () => {
    expect(metadataOptionsFromEnv({ DOCKER_METADATA_PR_HEAD_SHA: 'True' }).prHeadSha).toBe(true);
    expect(metadataOptionsFromEnv({}).prHeadSha).toBe(false);
    expect(annotationLevelsFromEnv({})).toEqual(['manifest']);
    expect(annotationLevelsFromEnv({ DOCKER_METADATA_ANNOTATIONS_LEVELS: 'manifest, index' })).toEqual(['manifest', 'index']);
  });
});
