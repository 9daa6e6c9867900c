/**
 * The Dockerfiles users write first, built by Kiln and run by docker, hermetically:
 *   - Debian + `RUN apt-get update && apt-get install -y nginx` + COPY index.html + ENTRYPOINT
 *     nginx: apt installs from a repository on 127.0.0.1 (scripts/make-test-apt-repo.sh makes it
 *     at setup from this machine's apt sources), and the container serves the page;
 *   - a Node app: COPY package*.json, RUN npm ci, COPY . ., CMD ["node", "index.js"], its
 *     dependency fetched by npm from a registry on 127.0.0.1 (a package packed here, served by a
 *     small server speaking the registry's two requests); a second build after changing index.js
 *     takes `npm ci` from the cache; the same with a cache mount for npm's cache;
 *   - a multi-stage build: an artefact made by RUN in one stage, copied into a small final stage.
 * The Node base is the Debian 12 test rootfs plus this machine's node and npm, copied in.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, createReadStream, existsSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { dirname, join } from 'node:path';
import { DEBIAN_IMAGE, DEBIAN_ROOTFS, DEBIAN_ROOTFS_TAR, makeBaseImages, makeDebianImage } from '../helpers/base-images.js';
import { describeWithDocker, dockerLoad, useDockerd } from '../helpers/dockerd.js';
import { ROOT, capability, tools } from '../helpers/requirements.js';
import { kiln, kilnProcess, tempDir, writeTree } from '../engine/kiln-helpers.js';
import { makeTestUser } from '../helpers/test-user.js';
import { NODE_AND_NPM, SEED_DEP, nodeAppFiles, startSeedRegistry, writeNodeBaseContext, type SeedRegistry } from '../helpers/node-seed.js';

const DEP = SEED_DEP;
const APT_REPO = join(dirname(DEBIAN_ROOTFS_TAR), 'apt-nginx');
const aptRepo = capability(
  'apt-nginx-repo',
  `the local apt repository with nginx ${APT_REPO}`,
  () => (existsSync(join(APT_REPO, 'Packages')) ? undefined : 'not made yet'),
  'run scripts/install-test-deps.sh as root (it runs scripts/make-test-apt-repo.sh once)',
);

/** A static file server for `dir` on 127.0.0.1 (an apt repository, here). */
async function serveDirectory(dir: string): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const name = decodeURIComponent((req.url ?? '/').split('?')[0]!).replace(/^\/+/, '');
    const path = join(dir, name);
    if (name.includes('..') || !existsSync(path) || !statSync(path).isFile()) {
      res.statusCode = 404;
      res.end();
      return;
    }
    res.setHeader('content-length', String(statSync(path).size));
    createReadStream(path).pipe(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}/`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** Whether nothing listens on 127.0.0.1:port (nginx in the container uses the host's network). */
async function portFree(port: number): Promise<boolean> {
  const probe = createNetServer();
  return new Promise((resolve) => {
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

describeWithDocker(
  "the seeds' Dockerfiles, built by Kiln, run by docker",
  () => {
    const env = useDockerd();
    let work: string;
    let store: string;
    let registryUrl: string;
    let seed: SeedRegistry;
    let debianArchive: string;

    beforeAll(async () => {
      work = tempDir('seeds');
      store = join(work, 'store');
      seed = await startSeedRegistry(work);
      registryUrl = seed.url;

      // The bases: busybox and Debian in both the store and the daemon, then Debian + node + npm.
      const busybox = await makeBaseImages(env.dockerd, join(work, 'base'));
      const debian = await makeDebianImage(env.dockerd, join(work, 'base'));
      debianArchive = debian.archive;
      for (const archive of [busybox.busyboxArchive, debian.archive]) {
        const loaded = await kiln(['load', '--store', store, '-q', '-i', archive]);
        if (loaded.code !== 0) throw new Error(loaded.stderr);
      }
      const nodeCtx = writeNodeBaseContext(join(work, 'node-base'), registryUrl);
      const base = await kiln(['build', '--store', store, '-q', '-t', 'kiln-seed/node:20', nodeCtx]);
      if (base.code !== 0) throw new Error(`node base: ${base.stderr}`);
    }, 300_000);

    afterAll(async () => {
      await seed?.close();
      if (work) rmSync(work, { recursive: true, force: true });
    });

    /** Build with Kiln, load into the daemon, run; the progress and what the container printed. */
    async function buildAndRun(ctx: string, tag: string): Promise<{ progress: string; output: string }> {
      const archive = join(work, `${tag.replace(/[/:]/g, '-')}.tar`);
      const r = await kiln(['build', '--store', store, '--progress', 'plain', '-t', tag, '--output', `type=docker,dest=${archive}`, ctx]);
      if (r.code !== 0) throw new Error(r.stderr);
      await dockerLoad(env.dockerd, archive);
      const run = await env.dockerd.docker(['run', '--rm', '--network=none', tag]);
      return { progress: r.stderr, output: run.stdout + run.stderr };
    }

    const nodeApp = (dockerfileRun: string) => nodeAppFiles(seed, dockerfileRun);

    it('a Node app: npm ci in a RUN, docker runs it, and a change to index.js reuses the npm ci layer', async () => {
      const ctx = writeTree(tempDir('seed-node'), nodeApp('RUN npm ci'));
      const first = await buildAndRun(ctx, 'kiln-seed/node-app:1');
      expect(first.progress).toMatch(/added 1 package/);
      expect(first.output).toBe(`hello from ${DEP}\n`);

      writeFileSync(join(ctx, 'index.js'), `console.log(require('${DEP}')('changed'));\n`);
      const second = await buildAndRun(ctx, 'kiln-seed/node-app:2');
      expect(second.progress).toMatch(/\[stage-0 4\/6\] RUN npm ci\n#\d+ CACHED/);
      expect(second.output).toBe(`changed from ${DEP}\n`);
    }, 180_000);

    it("a Node app with npm's cache in a cache mount: the cache stays out of the image and serves the next install", async () => {
      const ctx = writeTree(tempDir('seed-node-cache'), nodeApp('RUN --mount=type=cache,target=/root/.npm npm ci --prefer-offline && ls /root/.npm/_cacache > /dev/null'));
      const first = await buildAndRun(ctx, 'kiln-seed/node-app-cache:1');
      expect(first.output).toBe(`hello from ${DEP}\n`);
      const ls = await env.dockerd.docker(['run', '--rm', '--network=none', '--entrypoint', 'ls', 'kiln-seed/node-app-cache:1', '-A', '/root']);
      expect(ls.stdout).not.toContain('.npm');
      // With the registry gone, a new install comes from the cache mount.
      await seed.stop();
      try {
        writeFileSync(join(ctx, 'package.json'), JSON.stringify({ name: 'seed-app', version: '1.0.1', dependencies: { [DEP]: '1.0.0' } }));
        const second = await buildAndRun(ctx, 'kiln-seed/node-app-cache:2');
        expect(second.output).toBe(`hello from ${DEP}\n`);
      } finally {
        await seed.restart();
      }
    }, 180_000);

    it.each([
      ['as root', undefined],
      ['rootless, by a user without sudo (a user namespace with its subordinate ids)', 'kiln-seed-rootless'],
    ])('Debian + apt-get install nginx + COPY index.html, built %s: the container serves the page', async (_how, userName) => {
      const user = userName ? makeTestUser(userName, { sudo: false, subordinateIds: 400000 }) : undefined;
      const repo = await serveDirectory(APT_REPO);
      try {
        const ctx = writeTree(tempDir('seed-nginx'), {
          'index.html': '<h1>served by nginx, built by kiln</h1>\n',
          Dockerfile: [
            `FROM ${DEBIAN_IMAGE}`,
            '# The test: apt reads its packages from the repository on 127.0.0.1 (a CI would use its mirror).',
            `RUN rm -f /etc/apt/sources.list /etc/apt/sources.list.d/* && echo "deb [trusted=yes] ${repo.url} ./" > /etc/apt/sources.list.d/local.list`,
            'RUN apt-get update && apt-get install -y nginx',
            'COPY index.html /var/www/html/index.html',
            'ENTRYPOINT ["/usr/sbin/nginx", "-g", "daemon off;"]',
            '',
          ].join('\n'),
        });
        // The user builds in a store of its own, into which it loads the Debian base.
        let buildStore = store;
        if (user) {
          buildStore = join(ctx, 'store');
          for (const dir of [ctx, work]) chmodSync(dir, 0o755);
          spawnSync('chown', ['-R', `${user.uid}:${user.gid}`, ctx]);
          const loaded = await kilnProcess(['load', '--store', buildStore, '-q', '-i', debianArchive], ctx, { HOME: ctx }, user);
          if (loaded.code !== 0) throw new Error(loaded.stderr);
        }
        const archive = join(user ? ctx : work, 'nginx.tar');
        const r = await kilnProcess(['build', '--store', buildStore, '--progress', 'plain', '-t', 'kiln-seed/nginx:1', '--output', `type=docker,dest=${archive}`, ctx], ctx, { HOME: ctx, KILN_OFFLINE: '1' }, user);
        if (r.code !== 0) throw new Error(r.stderr);
        expect(r.stderr).toMatch(/Setting up nginx/);
        await dockerLoad(env.dockerd, archive);
      } finally {
        await repo.close();
        user?.remove();
      }
      // The test dockerd has no bridge for -p: the container takes the host's network, port 80.
      expect(await portFree(80)).toBe(true);
      const name = `kiln-seed-nginx-${process.pid}`;
      await env.dockerd.dockerOk(['run', '-d', '--name', name, '--network=host', 'kiln-seed/nginx:1']);
      try {
        let page = '';
        for (let i = 0; i < 50 && !page; i++) {
          page = await fetch('http://127.0.0.1:80/').then((res) => res.text(), () => '');
          if (!page) await new Promise((r) => setTimeout(r, 100));
        }
        expect(page).toBe('<h1>served by nginx, built by kiln</h1>\n');
      } finally {
        await env.dockerd.docker(['rm', '-f', name]);
      }
    }, 240_000);

    it('a multi-stage build: RUN makes an artefact in one stage, the small final stage runs it', async () => {
      const ctx = writeTree(tempDir('seed-multistage'), {
        'build.js': "const fs = require('fs');\nfs.mkdirSync('/out');\nfs.writeFileSync('/out/hello', `#!/bin/sh\\necho built with node ${process.version}\\n`, { mode: 0o755 });\n",
        Dockerfile: ['FROM kiln-seed/node:20 AS build', 'WORKDIR /src', 'COPY build.js .', 'RUN node build.js', '', 'FROM kiln-test/busybox', 'COPY --from=build /out/hello /usr/local/bin/hello', 'CMD ["hello"]', ''].join('\n'),
      });
      const r = await buildAndRun(ctx, 'kiln-seed/multistage:1');
      expect(r.output).toBe(`built with node ${process.version}\n`);
      const size = await env.dockerd.docker(['image', 'inspect', '--format', '{{.Size}}', 'kiln-seed/multistage:1']);
      expect(Number(size.stdout.trim())).toBeLessThan(5 * 1024 * 1024);
    }, 180_000);
  },
  [ROOT, DEBIAN_ROOTFS, aptRepo, NODE_AND_NPM, ...tools('runc', 'unshare', 'newuidmap')],
);
