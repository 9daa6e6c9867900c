// A real Nx workspace in a folder, set up the way a user sets one up: nx from the npm registry (the
// version this repository is tested with) and Kiln's core and nx-plugin installed from `npm pack`
// tarballs of this checkout. Shared by the Nx e2e test and the Nx benchmark.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { root } from './lib.js';

/** The nx version installed in this repository (so the workspace's install is served from npm's cache). */
export function nxVersion() {
  return JSON.parse(readFileSync(join(root, 'node_modules/nx/package.json'), 'utf8')).version;
}

function check(what, r) {
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${what} failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** Packs the built @kiln/core and @kiln/nx-plugin into `dir`; returns the tarballs' paths. */
export function packKiln(dir) {
  mkdirSync(dir, { recursive: true });
  const out = check(
    'npm pack',
    spawnSync('npm', ['pack', '--json', '--pack-destination', dir, '-w', 'packages/core', '-w', 'packages/nx-plugin'], {
      cwd: root,
      encoding: 'utf8',
    }),
  );
  const packed = JSON.parse(out);
  const file = (name) => join(dir, packed.find((p) => p.name === name).filename);
  return { core: file('@kiln/core'), nxPlugin: file('@kiln/nx-plugin') };
}

/**
 * Writes an npm-workspaces Nx workspace (apps/*, libs/*) into `dir` with `files` (path -> text),
 * the given nx.json, and Kiln's tarballs as devDependencies; installs it and commits it to git.
 */
export function createNxWorkspace(dir, { files, nxJson, tarballs }) {
  const all = {
    'package.json': JSON.stringify(
      {
        name: 'kiln-nx-workspace',
        private: true,
        workspaces: ['apps/*', 'libs/*'],
        devDependencies: { nx: nxVersion(), '@kiln/core': `file:${tarballs.core}`, '@kiln/nx-plugin': `file:${tarballs.nxPlugin}` },
      },
      null,
      2,
    ),
    'nx.json': JSON.stringify(nxJson, null, 2),
    '.gitignore': 'node_modules\ndist\n.nx\n.kiln-store\n',
    ...files,
  };
  for (const [path, text] of Object.entries(all)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  check('npm install', spawnSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: dir, encoding: 'utf8' }));
  git(dir, 'init', '-q', '-b', 'main');
  commitAll(dir, 'workspace');
}

export function git(dir, ...args) {
  return check(`git ${args.join(' ')}`, spawnSync('git', ['-c', 'user.name=kiln', '-c', 'user.email=kiln@example.com', ...args], { cwd: dir, encoding: 'utf8' }));
}

export function commitAll(dir, message) {
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', message);
}

const ansiEscape = /\u001b\[[0-9;]*[A-Za-z]/g;
const stripAnsi = (text) => text.replace(ansiEscape, '');

/**
 * Runs the workspace's nx with no daemon, no Nx Cloud and no interactive UI (so nothing keeps
 * running after the command). Returns { status, stdout, stderr, output } without colour codes and
 * without throwing.
 */
export function nx(dir, args, env = {}) {
  const r = spawnSync(join(dir, 'node_modules/.bin/nx'), args, {
    cwd: dir,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
    env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', NX_INTERACTIVE: 'false', NX_SKIP_NX_CACHE: undefined, ...env },
  });
  if (r.error) throw r.error;
  // Nx colours its output when CI is set, even into a pipe; callers match plain text.
  const stdout = stripAnsi(r.stdout);
  const stderr = stripAnsi(r.stderr);
  return { status: r.status, stdout, stderr, output: stdout + stderr };
}
