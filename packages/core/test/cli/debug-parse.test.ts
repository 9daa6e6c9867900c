// `kiln debug parse` as a user runs it: the real bin, real files, exit codes and output.
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../helpers/conformance.js';

const run = promisify(execFile);
const bin = resolve(repoRoot, 'packages/core/bin/kiln.js');
const work = mkdtempSync(join(tmpdir(), 'kiln-cli-'));

async function kiln(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = run(process.execPath, [bin, ...args], { cwd: work, maxBuffer: 64 << 20 });
  if (input !== undefined) {
    child.child.stdin!.end(input);
  }
  try {
    const { stdout, stderr } = await child;
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

function file(name: string, content: string | Uint8Array): string {
  const path = join(work, name);
  writeFileSync(path, content);
  return name;
}

describe('kiln debug parse', () => {
  it("prints BuildKit's dump for the example Dockerfile", async () => {
    const { code, stdout, stderr } = await kiln(['debug', 'parse', resolve(repoRoot, 'examples/hello/Dockerfile')]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain('(from "${BASE}" "AS" "base")\n');
    expect(stdout).toContain('(copy "<<EOF" "/app/motd")\n');
  });

  it('reads -f FILE and -f - (stdin)', async () => {
    const name = file('Dockerfile', 'FROM a\nCOPY --from=b x y\n');
    expect((await kiln(['debug', 'parse', '-f', name])).stdout).toBe('(from "a")\n(copy ["--from=b"] "x" "y")\n');
    expect((await kiln(['debug', 'parse', '-f', '-'], 'FROM stdin\n')).stdout).toBe('(from "stdin")\n');
  });

  it('warns about empty continuation lines on stderr', async () => {
    const name = file('warn.Dockerfile', 'FROM a\nRUN a \\\n\n b\n');
    const { code, stderr } = await kiln(['debug', 'parse', name]);
    expect(code).toBe(0);
    expect(stderr).toMatch(/^\[WARNING\] warn\.Dockerfile:4: Empty continuation line found in: RUN a  b\n$/);
  });

  it('warns on stderr about exec form that is not JSON, and dumps it as BuildKit does', async () => {
    const name = file('quotes.Dockerfile', "FROM a\nCMD ['echo','x']\n");
    const { code, stdout, stderr } = await kiln(['debug', 'parse', name]);
    expect(code).toBe(0);
    expect(stdout).toBe('(from "a")\n(cmd "[\'echo\',\'x\']")\n');
    expect(stderr).toBe(
      `[WARNING] quotes.Dockerfile:2: CMD ['echo','x'] is not a JSON array (JSON strings need double quotes), so it is shell form: ` +
        `the shell runs ['echo','x'] as a command, as in docker build; for exec form write CMD ["echo", "x"]\n`,
    );
  });

  it('--no-check dumps unknown instructions as BuildKit does', async () => {
    const name = file('unknown.Dockerfile', 'FROM a\nFOO bar\n');
    expect((await kiln(['debug', 'parse', '--no-check', name])).stdout).toBe('(from "a")\n(foo "")\n');
    const checked = await kiln(['debug', 'parse', name]);
    expect(checked.code).toBe(1);
    expect(checked.stderr).toBe('error: unknown.Dockerfile:2: unknown instruction: FOO (in: FOO bar)\n');
  });

  const bad: [string, string | Uint8Array, RegExp][] = [
    ['empty', '', /file with no instructions/],
    ['comments', '# only\n# comments\n', /file with no instructions/],
    ['garbage', Uint8Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256), /not text \(it holds a NUL byte: is it a binary file\?\)/],
    ['long', `FROM a\nRUN ${'z'.repeat(10 * 1024 * 1024)}\n`, /:2: dockerfile line greater than max allowed size of 65535/],
    ['heredoc', 'FROM a\nRUN <<EOF\necho\n', /:2: unterminated heredoc/],
    ['json', 'FROM a\nCMD ["echo", 1]\n', /:2: when using JSON array syntax, arrays must be comprised of strings only/],
    ['check', '# check=skip\nFROM a\n', /:1: failed to parse check options/],
  ];
  it.each(bad)('bad input (%s): one clear error line, exit 1, no stack', async (name, content, message) => {
    const { code, stdout, stderr } = await kiln(['debug', 'parse', file(`${name}.Dockerfile`, content)]);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(new RegExp(`^error: ${name}\\.Dockerfile:\\d+: `));
    expect(stderr).toMatch(message);
    expect(stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it('a missing file is a user error (exit 1)', async () => {
    const { code, stderr } = await kiln(['debug', 'parse', 'nope/Dockerfile']);
    expect(code).toBe(1);
    expect(stderr).toBe('error: cannot read Dockerfile nope/Dockerfile: no such file\n');
  });

  it.each([[['debug']], [['debug', 'parse']], [['frobnicate']], [['debug', 'parse', '--bogus', 'x']], [[]]])(
    'usage errors exit 2: %j',
    async (args) => {
      const { code, stderr, stdout } = await kiln(args);
      expect(code).toBe(2);
      expect(stderr + stdout).toContain('Usage: kiln');
    },
  );

  it('--help and --version exit 0', async () => {
    expect((await kiln(['--help'])).code).toBe(0);
    expect((await kiln(['--version'])).stdout).toMatch(/^kiln \d+\.\d+\.\d+\n$/);
  });
});
