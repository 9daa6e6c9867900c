// What the Node seed tests share: a package packed by npm and served by a small registry on
// 127.0.0.1 (the two requests npm makes: the packument and the tarball; in a process of its own),
// a Node base image
// (the Debian 12 test rootfs plus this machine's node and npm), and an app that `npm ci`s it.
import { createHash } from 'node:crypto';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DEBIAN_IMAGE } from './base-images.js';
import { capability } from './requirements.js';

export const SEED_DEP = 'kiln-seed-dep';
export const NODE_BASE = 'kiln-seed/node:20';

export const NODE_AND_NPM = capability(
  'node-npm',
  "this machine's node and npm (copied into the test's Node base image)",
  () => (spawnSync('npm', ['--version']).status === 0 ? undefined : 'npm not found'),
  'install Node.js with npm',
);

export interface SeedRegistry {
  url: string;
  /** The tarball's integrity, as a lock file records it. */
  integrity: string;
  /** Stop serving (the registry is gone), and serve again on the same port. */
  stop(): Promise<void>;
  restart(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The registry runs in a process of its own, so that a caller blocked in a synchronous spawn
 * (nx run through spawnSync) does not block the requests of the npm it started.
 */
const REGISTRY_SCRIPT = `
const http = require('node:http');
const fs = require('node:fs');
const [tarballPath, name, integrity, port] = process.argv.slice(1);
const tarball = fs.readFileSync(tarballPath);
const server = http.createServer((req, res) => {
  const url = 'http://127.0.0.1:' + server.address().port + '/';
  if (req.url === '/' + name) {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ name, 'dist-tags': { latest: '1.0.0' }, versions: { '1.0.0': { name, version: '1.0.0', dist: { tarball: url + name + '/-/' + name + '-1.0.0.tgz', integrity } } } }));
  } else if (req.url === '/' + name + '/-/' + name + '-1.0.0.tgz') {
    res.end(tarball);
  } else {
    res.statusCode = 404;
    res.end('{}');
  }
});
server.listen(Number(port), '127.0.0.1', () => console.log(server.address().port));
`;

/** Packs the seed dependency in `workDir` and serves it on 127.0.0.1. */
export async function startSeedRegistry(workDir: string): Promise<SeedRegistry> {
  const pkg = join(workDir, 'seed-dep');
  mkdirSync(pkg, { recursive: true });
  writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: SEED_DEP, version: '1.0.0', main: 'index.js' }));
  writeFileSync(join(pkg, 'index.js'), "module.exports = (who) => `${who} from ${require('./package.json').name}`;\n");
  const packed = spawnSync('npm', ['pack', '--silent', '--pack-destination', workDir], { cwd: pkg, encoding: 'utf8' });
  if (packed.status !== 0) throw new Error(`npm pack: ${packed.stderr}`);
  const tarballPath = join(workDir, packed.stdout.trim().split('\n').pop()!);
  const integrity = `sha512-${createHash('sha512').update(readFileSync(tarballPath)).digest('base64')}`;
  let child: ChildProcess | undefined;
  const serve = (port: number) =>
    new Promise<number>((resolve, reject) => {
      child = spawn(process.execPath, ['-e', REGISTRY_SCRIPT, tarballPath, SEED_DEP, integrity, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
      child.once('error', reject);
      child.stdout!.once('data', (b: Buffer) => resolve(Number(b.toString().trim())));
    });
  const stop = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill();
    });
  };
  const port = await serve(0);
  return {
    url: `http://127.0.0.1:${port}/`,
    integrity,
    stop,
    restart: async () => void (await serve(port)),
    close: stop,
  };
}

/** A context that builds NODE_BASE FROM the Debian test image (which must be in the store). */
export function writeNodeBaseContext(dir: string, registryUrl: string): string {
  const node = process.execPath;
  mkdirSync(join(dir, 'usr/local/bin'), { recursive: true });
  cpSync(node, join(dir, 'usr/local/bin/node'));
  cpSync(join(dirname(dirname(node)), 'lib', 'node_modules', 'npm'), join(dir, 'usr/local/lib/node_modules/npm'), { recursive: true });
  writeFileSync(
    join(dir, 'Dockerfile'),
    [
      `FROM ${DEBIAN_IMAGE}`,
      'COPY usr/ /usr/',
      'RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm',
      // Nothing beyond the test's registry: no update check, audit or funding calls.
      `ENV npm_config_registry=${registryUrl} npm_config_update_notifier=false npm_config_audit=false npm_config_fund=false`,
      '',
    ].join('\n'),
  );
  return dir;
}

/** The seed app's files: package.json, a lock file for the registry, index.js and its Dockerfile with `run` as its install step. */
export function nodeAppFiles(registry: Pick<SeedRegistry, 'url' | 'integrity'>, run: string, name = 'seed-app'): Record<string, string> {
  const lock = {
    name,
    version: '1.0.0',
    lockfileVersion: 3,
    requires: true,
    packages: {
      '': { name, version: '1.0.0', dependencies: { [SEED_DEP]: '1.0.0' } },
      [`node_modules/${SEED_DEP}`]: { version: '1.0.0', resolved: `${registry.url}${SEED_DEP}/-/${SEED_DEP}-1.0.0.tgz`, integrity: registry.integrity },
    },
  };
  return {
    'package.json': JSON.stringify({ name, version: '1.0.0', dependencies: { [SEED_DEP]: '1.0.0' } }),
    'package-lock.json': JSON.stringify(lock),
    'index.js': `console.log(require('${SEED_DEP}')('hello'));\n`,
    '.dockerignore': 'node_modules\n',
    Dockerfile: [`FROM ${NODE_BASE}`, 'WORKDIR /app', 'COPY package*.json ./', run, 'COPY . .', 'CMD ["node", "index.js"]', ''].join('\n'),
  };
}
