// `kiln build` of a Dockerfile docker builds with a warning: Kiln builds the same image and
// prints the warning, naming file:line, on stderr. The real bin, real files, a fresh store.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../helpers/conformance.js';

const run = promisify(execFile);
const bin = resolve(repoRoot, 'packages/core/bin/kiln.js');
const work = mkdtempSync(join(tmpdir(), 'kiln-cli-build-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function kiln(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], { cwd: work, maxBuffer: 64 << 20 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout, stderr: e.stderr };
  }
}

function context(name: string, dockerfile: string): string {
  const dir = join(work, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'Dockerfile'), dockerfile);
  return dir;
}

describe('kiln build of exec form that is not JSON', () => {
  it("builds CMD ['echo','x'] as docker does (Cmd [/bin/sh -c \"['echo','x']\"]) and warns on stderr with file:line", async () => {
    const store = join(work, 'store');
    const iid = join(work, 'iid');
    const ctx = context('cmd-not-json', "FROM scratch\nCMD ['echo','x']\n");
    const { code, stdout, stderr } = await kiln(['build', '--store', store, '--progress', 'plain', '--iidfile', iid, ctx]);
    expect(stderr).toContain(
      `WARNING: Dockerfile:2: CMD ['echo','x'] is not a JSON array (JSON strings need double quotes), so it is shell form: ` +
        `the shell runs ['echo','x'] as a command, as in docker build; for exec form write CMD ["echo", "x"]\n`,
    );
    expect(code).toBe(0);
    expect(stdout).toBe('');
    const configDigest = readFileSync(iid, 'utf8').trim();
    const config = JSON.parse(readFileSync(join(store, 'blobs', 'sha256', configDigest.replace(/^sha256:/, '')), 'utf8'));
    expect(config.config.Cmd).toEqual(['/bin/sh', '-c', "['echo','x']"]);
  });
});
