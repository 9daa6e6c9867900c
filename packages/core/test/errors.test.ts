import { KilnError } from '../src/errors.js';

describe('KilnError', () => {
  it('prefixes the message with file:line', () => {
    const e = new KilnError('unknown instruction: FOO', { file: 'Dockerfile', line: 3 });
    expect(e.message).toBe('Dockerfile:3: unknown instruction: FOO');
    expect(e.name).toBe('KilnError');
  });
});
