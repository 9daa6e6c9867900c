// Every verb answers --help with its usage and an example, exit code 0, as docker's verbs do.
import { describe, expect, it } from '@jest/globals';
import { kiln } from '../engine/kiln-helpers.js';

const VERBS = [
  'build', 'pull', 'push', 'load', 'save', 'login', 'logout', 'debug', 'images', 'inspect', 'history', 'tag', 'rmi',
  'image prune', 'image ls', 'builder prune', 'system df', 'system prune', 'run', 'ps', 'rm', 'commit',
];

describe('kiln VERB --help', () => {
  it.each(VERBS)('%s', async (verb) => {
    const r = await kiln([...verb.split(' '), '--help']);
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toMatch(/^Usage: kiln /);
    expect(r.stdout).toMatch(/\nExamples?:\n {2}.*\bkiln /);
  });
});
