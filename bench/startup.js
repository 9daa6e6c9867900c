// Start-up benchmark: how far `kiln` is from Node's own start. Times `node -e 0`, `kiln
// --version`, `kiln images` (an empty store) and a no-change build of the README's example
// (examples/hello, every step a cache hit), each a median of BENCH_REPS (default 7) runs.
//
// Run: npm run build && node bench/startup.js
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kilnBin, root, run, time } from './lib.js';

const reps = Number(process.env.BENCH_REPS ?? 7);
const work = mkdtempSync(join(tmpdir(), 'kiln-bench-startup-'));
const store = join(work, 'store');
const env = { ...process.env, KILN_OFFLINE: '1' };
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const measure = (args) => median(Array.from({ length: reps }, () => time(() => run(process.execPath, args, { env }))));

try {
  const example = join(root, 'examples/hello');
  run(process.execPath, [kilnBin, 'build', '--store', store, '-q', '-t', 'hello:latest', example], { env });
  const rows = [
    ['node -e 0', measure(['-e', '0'])],
    ['kiln --version', measure([kilnBin, '--version'])],
    ['kiln images (empty store)', measure([kilnBin, 'images', '--store', join(work, 'empty')])],
    ['kiln build, no change (examples/hello)', measure([kilnBin, 'build', '--store', store, '-q', '-t', 'hello:latest', example])],
  ];
  const base = rows[0][1];
  console.log(`Start-up benchmark: median of ${reps}`);
  for (const [what, ms] of rows) console.log(`${what.padEnd(40)} ${(ms / 1000).toFixed(3)} s   +${((ms - base) / 1000).toFixed(3)} s over node -e 0`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
