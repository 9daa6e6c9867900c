// Nx benchmark: a real Nx workspace with 10 image projects (each 200 files / 2 MB of sources and a
// COPY-only Dockerfile), `nx run-many -t image` with Kiln's inferred targets, and the same
// projects' `docker-image` targets (nx:run-commands running `docker build`, as nx-container-style
// setups do) when a Docker daemon answers, in the same run. Phases: cold (no Nx cache, no tool
// cache), no change (Nx cache hit), no change with --skip-nx-cache (the tool's own cache), and one
// changed file in one app.
//
// Run: npm run build && node bench/nx.js       (docker side: DOCKER_HOST or /var/run/docker.sock)
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { docker, dockerAvailable, run, time } from './lib.js';
import { createNxWorkspace, nx, packKiln } from './nx-workspace.js';

const PROJECTS = 10;
const FILES = 200;
const reps = Number(process.env.BENCH_REPS ?? 3);
const work = mkdtempSync(join(tmpdir(), 'kiln-bench-nx-'));
const ws = join(work, 'ws');
const withDocker = dockerAvailable();

function source(app, i) {
  // ~10 KB of deterministic text per file
  return `// ${app} file ${i}\n` + `export const v${i} = ${JSON.stringify(`${app}-${i}-`.repeat(600))};\n`;
}

const files = {};
for (let p = 0; p < PROJECTS; p++) {
  const app = `app${p}`;
  files[`apps/${app}/package.json`] = JSON.stringify({ name: app, version: '1.0.0' });
  files[`apps/${app}/Dockerfile`] = 'FROM scratch\nCOPY package.json /app/\nCOPY src/ /app/src/\nCMD ["/app/src/main.js"]\n';
  for (let i = 0; i < FILES; i++) files[`apps/${app}/src/file${i}.js`] = source(app, i);
  // The docker side: the same Dockerfile through `docker build`, as a cacheable Nx target.
  files[`apps/${app}/project.json`] = JSON.stringify({
    targets: {
      'docker-image': {
        executor: 'nx:run-commands',
        cache: true,
        inputs: ['production', '^production'],
        options: { command: `${docker} build -q -t kiln-bench/${app}:1 apps/${app}` },
      },
    },
  });
}

console.log(`creating an Nx workspace with ${PROJECTS} image projects (${FILES} files each) in ${ws} ...`);
createNxWorkspace(ws, {
  tarballs: packKiln(join(work, 'tarballs')),
  nxJson: {
    cacheDirectory: '.nx/cache',
    namedInputs: { default: ['{projectRoot}/**/*'], production: ['default'] },
    plugins: [{ plugin: '@kiln/nx-plugin', options: { defaults: { store: '.kiln-store' } } }],
  },
  files,
});

function runMany(target, extra = []) {
  return time(() => {
    const r = nx(ws, ['run-many', '-t', target, ...extra]);
    if (r.status !== 0) throw new Error(`nx run-many -t ${target} failed:\n${r.output}`);
  });
}

const resetNxCache = () => rmSync(join(ws, '.nx/cache'), { recursive: true, force: true });
const tools = {
  kiln: {
    target: 'image',
    cold() {
      resetNxCache();
      rmSync(join(ws, '.kiln-store'), { recursive: true, force: true });
      rmSync(join(ws, 'dist'), { recursive: true, force: true });
    },
  },
  docker: {
    target: 'docker-image',
    cold() {
      resetNxCache();
      for (let p = 0; p < PROJECTS; p++) {
        try {
          run(docker, ['rmi', '-f', `kiln-bench/app${p}:1`]);
        } catch {}
      }
      run(docker, ['builder', 'prune', '-af']);
    },
  },
};

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = {};
let change = 0;
for (const [name, tool] of Object.entries(tools)) {
  if (name === 'docker' && !withDocker) continue;
  const phases = { cold: [], 'no change (Nx cache)': [], 'no change, --skip-nx-cache': [], 'one file changed': [] };
  for (let i = 0; i < reps; i++) {
    tool.cold();
    phases.cold.push(runMany(tool.target));
    phases['no change (Nx cache)'].push(runMany(tool.target));
    phases['no change, --skip-nx-cache'].push(runMany(tool.target, ['--skip-nx-cache']));
    writeFileSync(join(ws, 'apps/app3/src/file7.js'), `export const changed = ${++change};\n`);
    phases['one file changed'].push(runMany(tool.target));
  }
  results[name] = Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, median(v)]));
}

const fmt = (ms) => `${(ms / 1000).toFixed(2)} s`;
console.log(`\nnx run-many over ${PROJECTS} image projects, median of ${reps} (Node ${process.version}, Nx default parallelism)`);
console.log(['phase'.padEnd(30), 'kiln'.padStart(10), withDocker ? 'docker build'.padStart(14) : '', withDocker ? 'ratio'.padStart(8) : ''].join(''));
for (const phase of Object.keys(results.kiln)) {
  const k = results.kiln[phase];
  const d = results.docker?.[phase];
  console.log([phase.padEnd(30), fmt(k).padStart(10), d ? fmt(d).padStart(14) : '', d ? `${(d / k).toFixed(2)}x`.padStart(8) : ''].join(''));
}
if (!withDocker) console.log('(no Docker daemon answered: docker side skipped)');
rmSync(work, { recursive: true, force: true });
