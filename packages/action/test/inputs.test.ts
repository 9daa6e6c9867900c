// The Action's inputs: defaults, lists, booleans, and messages that name the input.

import { describe, expect, it } from '@jest/globals';
import { parseEntitlements } from '@kiln/core';
import { readInputs } from '../src/inputs.js';

const getter = (inputs: Record<string, string>) => (name: string) => inputs[name] ?? '';

describe('readInputs', () => {
  it('defaults as action.yml documents them', () => {
    expect(readInputs(getter({}))).toEqual({
      context: '.',
      file: undefined,
      buildArgs: {},
      target: undefined,
      labels: [],
      annotations: [],
      platform: undefined,
      push: false,
      noCache: false,
      compression: 'gzip',
      gzipLevel: 1,
      images: [],
      tags: [],
      flavor: [],
      login: undefined,
      cache: true,
      cacheKey: undefined,
      cacheMounts: true,
      cacheMountsLimit: 1024,
      summary: true,
      exportRuntimeEnv: false,
      secrets: { values: {}, files: {}, envs: {} },
      ssh: [],
      allow: [],
    });
  });

  it('reads secrets as build-push-action does: ID=VALUE lines, quoted values over several lines, files and variables', () => {
    const inputs = readInputs(
      getter({
        secrets: 'NPM_TOKEN=abc=def\n"KEY=-----BEGIN-----\nline ""two""\n-----END-----"\n  GH=ghp_x  \n',
        'secret-envs': 'token=MY_TOKEN\n',
        'ssh': 'default\ndeploy=/tmp/agent.sock\n',
        'secret-files': 'npmrc=.npmrc\n',
      }),
    );
    expect(inputs.secrets).toEqual({
      values: { NPM_TOKEN: 'abc=def', KEY: '-----BEGIN-----\nline "two"\n-----END-----', GH: 'ghp_x' },
      files: { npmrc: '.npmrc' },
      envs: { token: 'MY_TOKEN' },
    });
    expect(inputs.ssh).toEqual(['default', 'deploy=/tmp/agent.sock']);
  });

  it('reads allow as build-push-action does (comma or newline separated); the build refuses unknown entitlements', () => {
    const allow = (value: string) => parseEntitlements(readInputs(getter({ allow: value })).allow, 'input allow');
    expect(allow('security.insecure,network.host')).toEqual(['security.insecure', 'network.host']);
    expect(allow('security.insecure\nnetwork.host\n')).toEqual(['security.insecure', 'network.host']);
    expect(allow('')).toEqual([]);
    expect(() => parseEntitlements(['device'], 'input allow')).toThrow('input allow device: unknown entitlement (use security.insecure or network.host)');
  });

  it('never shows a secret line it cannot read', () => {
    expect(() => readInputs(getter({ secrets: 'just-a-token-value' }))).toThrow('input secrets: an entry is not ID=VALUE; write one ID=VALUE per line');
    expect(() => readInputs(getter({ secrets: 'just-a-token-value' }))).not.toThrow(/just-a-token/);
    expect(() => readInputs(getter({ secrets: '"A=unterminated' }))).toThrow('input secrets: a quoted entry has no closing double quote');
  });

  it('reads lines without blanks and comments; rules keep their commas', () => {
    const inputs = readInputs(
      getter({
        tags: 'type=semver,pattern={{version}}\n\n# a comment\n  type=match,"pattern=\\d{1,3}",group=0  \n',
        'build-args': 'A=1\nB=x=y\n',
        images: 'ghcr.io/org/app\n',
        platforms: 'linux/arm64',
        username: 'me',
        password: 's3cret',
        registry: 'ghcr.io',
        push: 'True',
      }),
    );
    expect(inputs.tags).toEqual(['type=semver,pattern={{version}}', 'type=match,"pattern=\\d{1,3}",group=0']);
    expect(inputs.buildArgs).toEqual({ A: '1', B: 'x=y' });
    expect(inputs.platform).toBe('linux/arm64');
    // A list, by commas or lines as build-push-action takes it, builds one image index.
    expect(readInputs(getter({ platforms: 'linux/amd64\nlinux/arm64, linux/arm/v7\n' })).platform).toBe('linux/amd64,linux/arm64,linux/arm/v7');
    expect(inputs.login).toEqual({ registry: 'ghcr.io', username: 'me', password: 's3cret' });
    expect(inputs.push).toBe(true);
  });

  it.each([
    [{ push: 'yes' }, 'input push: "yes" is not a boolean; write true or false'],
    [{ 'build-args': 'NOVALUE' }, 'input build-args: "NOVALUE" is not KEY=VALUE; write one KEY=VALUE per line'],
    [{ platforms: 'linux/amd64\nlinux/amd64' }, 'input platforms: platform linux/amd64 is named twice in "linux/amd64,linux/amd64"'],
    [{ platforms: 'linux' }, 'input platforms: invalid platform "linux": the architecture is missing; expected os/arch[/variant], e.g. linux/amd64 or linux/arm64/v8'],
    [{ username: 'me' }, 'input username is set but password is empty; set password (a token) too'],
    [{ password: 'x' }, 'input password is set but username is empty; set username too'],
    [{ compression: 'zstd' }, 'input compression: "zstd" is not gzip, gzip:LEVEL (0-9) or none'],
  ])('refuses %j', (inputs, message) => {
    expect(() => readInputs(getter(inputs))).toThrow(message);
  });
});
