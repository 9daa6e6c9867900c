// The committed bundle run as the GitHub runner runs it (helpers/runner.ts), main then post,
// against a real registry (docker-registry on 127.0.0.1, read back with skopeo) and a local Actions
// cache service that speaks @actions/cache 6's protocol (helpers/actions-cache-service.ts). Each
// job gets a new home, so an empty Kiln store, as on a fresh hosted runner.

import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { skopeoInspect, startRegistry, type TestRegistry } from '../../core/test/helpers/registry.js';
import { ROOT, describeNeeding, tools } from '../../core/test/helpers/requirements.js';
import { makeRootfs } from '../../core/test/helpers/base-images.js';
import { makeTestUser, type TestUser } from '../../core/test/helpers/test-user.js';
import { startActionsCacheService, type ActionsCacheService } from './helpers/actions-cache-service.js';
import { runJob, type RunnerJob } from './helpers/runner.js';

const execFileAsync = promisify(execFile);

let reg: TestRegistry;
let authReg: TestRegistry;
let cacheService: ActionsCacheService;
let work: string;
let ws: string;

const git = (...args: string[]) =>
  execFileSync('git', ['-c', 'user.name=ci', '-c', 'user.email=ci@example.com', ...args], { cwd: ws, encoding: 'utf8' }).trim();

const repository = {
  name: 'app',
  full_name: 'org/app',
  html_url: 'https://github.com/org/app',
  default_branch: 'main',
  description: 'The app',
  license: { spdx_id: 'Apache-2.0' },
};

/**
 * A job on a fresh runner: the same home path every time (as /home/runner on hosted runners, which
 * the Actions cache restores paths under), emptied first, so the Kiln store starts empty.
 */
function job(github: Record<string, string>, event: object, inputs: Record<string, string>, env: Record<string, string> = {}): RunnerJob {
  const home = join(work, 'home');
  rmSync(home, { recursive: true, force: true });
  mkdirSync(home);
  return {
    workspace: ws,
    home,
    github: { GITHUB_REPOSITORY: 'org/app', GITHUB_REPOSITORY_OWNER: 'org', GITHUB_SHA: git('rev-parse', 'HEAD'), ...github },
    event: { repository, ...event },
    inputs,
    env: { ...cacheService.env(), ...env },
  };
}

const tagPush = (tag: string) => ({ GITHUB_EVENT_NAME: 'push', GITHUB_REF: `refs/tags/${tag}`, GITHUB_REF_NAME: tag, GITHUB_REF_TYPE: 'tag' });
const semverRules = 'type=semver,pattern={{version}}\ntype=semver,pattern={{major}}.{{minor}}\ntype=semver,pattern={{major}}';

interface Steps {
  'kiln.steps': { instruction: string; cached: boolean }[];
  'containerimage.digest': string;
}

beforeAll(async () => {
  reg = await startRegistry();
  authReg = await startRegistry({ auth: 'htpasswd' });
  cacheService = await startActionsCacheService();
  work = mkdtempSync(join(tmpdir(), 'kiln-action-e2e-'));
  ws = join(work, 'repo');
  mkdirSync(ws);
  const files: Record<string, string> = {
    Dockerfile: 'FROM scratch\nWORKDIR /app\nCOPY package-lock.json ./\nCOPY deps/ ./deps/\nCOPY src/ ./src/\nCMD ["/app/src/main.js"]\n',
    'bad.Dockerfile': 'FROM scratch\nCOPY nothere.txt /\n',
    'package-lock.json': '{"lockfileVersion":3}\n',
  };
  for (let i = 0; i < 40; i++) files[`deps/dep${i}.js`] = `// dependency ${i}\n${'d'.repeat(20_000)}\n`;
  for (let i = 0; i < 20; i++) files[`src/file${i}.js`] = `// source ${i}\n${'s'.repeat(5_000)}\n`;
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(ws, path, '..'), { recursive: true });
    writeFileSync(join(ws, path), text);
  }
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('commit', '-q', '-m', 'first');
}, 120_000);

afterAll(async () => {
  await reg?.stop();
  await authReg?.stop();
  await cacheService?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describeNeeding(tools('docker-registry', 'htpasswd', 'skopeo', 'git'), 'the Action, as the runner runs it', () => {
  let firstDigest: string;

  it('a v1.2.3 tag push builds, tags 1.2.3, 1.2, 1 and latest, pushes them, and saves the layer cache', async () => {
    const { main, post } = await runJob(job(tagPush('v1.2.3'), { ref: 'refs/tags/v1.2.3' }, { images: `${reg.host}/org/app`, tags: semverRules, push: 'true' }));
    expect(main.stderr).toBe('');
    expect(main.code).toBe(0);
    const tags = ['1.2.3', '1.2', '1', 'latest'].map((t) => `${reg.host}/org/app:${t}`);
    expect(main.outputs['tags']!.split('\n')).toEqual(tags);
    expect(main.outputs['version']).toBe('1.2.3');
    expect(main.outputs['digest']).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(main.outputs['imageid']).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(main.outputs['cache-hit']).toBe('false');
    firstDigest = main.outputs['digest']!;
    for (const tag of tags) expect(((await skopeoInspect(tag)) as { Digest: string }).Digest).toBe(firstDigest);
    const config = (await skopeoInspect(tags[0]!, { config: true })) as { config: { Labels: Record<string, string> } };
    expect(config.config.Labels).toMatchObject({
      'org.opencontainers.image.version': '1.2.3',
      'org.opencontainers.image.source': 'https://github.com/org/app',
      'org.opencontainers.image.licenses': 'Apache-2.0',
      'org.opencontainers.image.revision': git('rev-parse', 'HEAD'),
      // the commit's time (from git), not the build's
      'org.opencontainers.image.created': new Date(git('log', '-1', '--format=%cI')).toISOString(),
    });
    const raw = (await skopeoInspect(tags[0]!, { raw: true })) as { annotations?: Record<string, string> };
    expect(raw.annotations?.['org.opencontainers.image.version']).toBe('1.2.3');
    expect(main.outputs['labels']).toContain('org.opencontainers.image.title=app');
    expect((JSON.parse(main.outputs['metadata']!) as Steps)['containerimage.digest']).toBe(firstDigest);

    expect(main.summary).toContain('Kiln image');
    expect(main.summary).toContain(firstDigest);
    expect(main.summary).toMatch(/<th>Steps<\/th><td>\d+ cached, \d+ built/);
    expect(post!.code).toBe(0);
    expect(post!.stdout).toMatch(/saved the layer cache as kiln-v1-Linux-X64-[0-9a-f]{16}-[0-9a-f]{16}/);
    expect(cacheService.entries().filter((e) => e.finalized)).toHaveLength(1);
  });

  it('a second run on a fresh runner restores the cache: every step is a hit, the same digest, nothing saved again', async () => {
    const before = cacheService.stats().uploads;
    const { main, post } = await runJob(job(tagPush('v1.2.3'), { ref: 'refs/tags/v1.2.3' }, { images: `${reg.host}/org/app`, tags: semverRules, push: 'true' }));
    expect(main.code).toBe(0);
    expect(main.outputs['cache-hit']).toBe('true');
    expect(main.outputs['digest']).toBe(firstDigest); // reproducible: same commit, same image
    const steps = (JSON.parse(main.outputs['metadata']!) as Steps)['kiln.steps'];
    expect(steps.filter((s) => !s.cached)).toEqual([]);
    expect(post!.stdout).toMatch(/the layer cache is unchanged .*not saved again/);
    expect(cacheService.stats().uploads).toBe(before);
    expect(cacheService.entries().filter((e) => e.finalized)).toHaveLength(1);
  });

  it('a branch push after one changed file rebuilds one layer, tags the branch and sha, and saves a cache no bigger', async () => {
    writeFileSync(join(ws, 'src/file3.js'), '// changed\n');
    git('commit', '-q', '-am', 'change one file');
    const sha = git('rev-parse', 'HEAD');
    const { main, post } = await runJob(
      job({ GITHUB_EVENT_NAME: 'push', GITHUB_REF: 'refs/heads/main', GITHUB_REF_NAME: 'main' }, { ref: 'refs/heads/main' }, {
        images: `${reg.host}/org/app`,
        tags: 'type=ref,event=branch\ntype=sha',
        push: 'true',
      }),
    );
    expect(main.code).toBe(0);
    expect(main.outputs['tags']!.split('\n')).toEqual([`${reg.host}/org/app:main`, `${reg.host}/org/app:sha-${sha.slice(0, 7)}`]);
    const steps = (JSON.parse(main.outputs['metadata']!) as Steps)['kiln.steps'];
    expect(steps.filter((s) => !s.cached).map((s) => s.instruction)).toEqual(['COPY src/ ./src/', 'CMD ["/app/src/main.js"]']);
    expect(((await skopeoInspect(`${reg.host}/org/app:main`)) as { Digest: string }).Digest).toBe(main.outputs['digest']);
    expect(post!.stdout).toMatch(/saved the layer cache/);
    const [first, second] = cacheService.entries().filter((e) => e.finalized);
    expect(second).toBeDefined();
    // Only what this build used: the old src layer is gone, so the entry did not grow.
    expect(second!.sizeBytes).toBeLessThan(first!.sizeBytes * 1.1);
  });

  it('platforms linux/amd64,linux/arm64 pushes one image index, no QEMU needed; skopeo reads either platform', async () => {
    const { main } = await runJob(
      job(tagPush('v3.0.0'), {}, { images: `${reg.host}/org/multi`, tags: 'type=semver,pattern={{version}}', platforms: 'linux/amd64,linux/arm64', push: 'true', cache: 'false' }),
    );
    expect(main.code).toBe(0);
    const tag = `${reg.host}/org/multi:3.0.0`;
    const raw = (await skopeoInspect(tag, { raw: true })) as { mediaType: string; manifests: { platform: { architecture: string } }[] };
    expect(raw.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    expect(raw.manifests.map((m) => m.platform.architecture)).toEqual(['amd64', 'arm64']);
    expect(((await skopeoInspect(tag)) as { Digest: string }).Digest).toBe(main.outputs['digest']);
    // The image ID names the index Kiln built (plain layers); the digest is the pushed one (gzip).
    expect(main.outputs['imageid']).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(main.outputs['imageid']).not.toBe(main.outputs['digest']);
    const arm = await execFileAsync('skopeo', ['inspect', '--tls-verify=false', '--override-arch', 'arm64', `docker://${tag}`], { encoding: 'utf8' });
    expect(JSON.parse(arm.stdout)).toMatchObject({ Architecture: 'arm64' });
    expect(main.summary).toContain('<code>linux/amd64</code>, <code>linux/arm64</code>');
    expect(main.stdout).toContain('[linux/arm64 stage-0 2/6] WORKDIR /app');
  });

  it('a pull request builds pr-N without pushing', async () => {
    const sha = git('rev-parse', 'HEAD');
    const { main } = await runJob(
      job(
        { GITHUB_EVENT_NAME: 'pull_request', GITHUB_REF: 'refs/pull/7/merge', GITHUB_HEAD_REF: 'feature', GITHUB_BASE_REF: 'main' },
        { number: 7, pull_request: { number: 7, head: { sha, ref: 'feature' }, base: { ref: 'main' } } },
        { images: `${reg.host}/org/app`, tags: 'type=ref,event=pr' },
      ),
    );
    expect(main.code).toBe(0);
    expect(main.outputs['tags']).toBe(`${reg.host}/org/app:pr-7`);
    expect(main.outputs['metadata']).not.toContain('kiln.pushed');
    await expect(skopeoInspect(`${reg.host}/org/app:pr-7`)).rejects.toThrow();
  });

  it('plain tags, registry login from the inputs, and the password masked everywhere', async () => {
    const password = authReg.users['kiln']!;
    const { main } = await runJob(
      job(tagPush('v2.0.0'), {}, { tags: `${authReg.host}/org/app:2.0.0`, push: 'true', registry: authReg.host, username: 'kiln', password }),
    );
    expect(main.code).toBe(0);
    expect(main.stdout).toContain(`::add-mask::${password}`);
    const leaks = [main.stdout.replace(`::add-mask::${password}`, ''), main.stderr, JSON.stringify(main.outputs), main.summary, JSON.stringify(main.state)];
    for (const text of leaks) expect(text).not.toContain(password);
    const inspected = (await skopeoInspect(`${authReg.host}/org/app:2.0.0`, { creds: `kiln:${password}` })) as { Digest: string };
    expect(inspected.Digest).toBe(main.outputs['digest']);
  });

  it('a Dockerfile error fails the step with an annotation on its line, and post does not run', async () => {
    const { main, post } = await runJob(job(tagPush('v1.2.3'), {}, { file: 'bad.Dockerfile', images: `${reg.host}/org/app` }));
    expect(main.code).toBe(1);
    expect(main.stdout).toMatch(/::error title=Kiln build failed,file=bad\.Dockerfile,line=2,endLine=2::bad\.Dockerfile:2: COPY failed: .*nothere\.txt/);
    expect(post).toBeUndefined();
  });

  it('bad input names the input', async () => {
    const { main } = await runJob(job(tagPush('v1.2.3'), {}, { images: `${reg.host}/org/app`, push: 'yes' }));
    expect(main.code).toBe(1);
    expect(main.stdout).toContain('::error::input push: "yes" is not a boolean; write true or false');
  });

  it('a cache service outage is a warning, not a failed build', async () => {
    cacheService.addFault({ target: 'twirp', times: 'always', action: { kind: 'reset' } });
    try {
      writeFileSync(join(ws, 'src/file4.js'), '// changed again\n');
      const { main, post } = await runJob(job(tagPush('v1.2.4'), {}, { images: `${reg.host}/org/app`, tags: semverRules }));
      expect(main.code).toBe(0);
      expect(main.stdout).toMatch(/::warning::.*(cache|Cache)/);
      expect(post!.code).toBe(0);
    } finally {
      cacheService.clearFaults();
      git('checkout', '--', 'src/file4.js');
    }
  });

  it('export-runtime-env hands the cache variables to later steps, the token masked', async () => {
    const { main } = await runJob(job(tagPush('v1.2.3'), {}, { images: `${reg.host}/org/app`, 'export-runtime-env': 'true', cache: 'false' }));
    expect(main.code).toBe(0);
    expect(main.exportedEnv['ACTIONS_RUNTIME_TOKEN']).toBe(cacheService.token);
    expect(main.exportedEnv['ACTIONS_RESULTS_URL']).toBe(cacheService.env()['ACTIONS_RESULTS_URL']);
    expect(main.stdout).toContain(`::add-mask::${cacheService.token}`);
  });
});


describeNeeding([ROOT, ...tools('runc', 'busybox', 'git')], 'the Action with RUN cache mounts', () => {
  const runApp = () => {
    const dir = join(ws, 'runapp');
    if (!existsSync(dir)) {
      mkdirSync(dir);
      makeRootfs(join(dir, 'rootfs'));
      writeFileSync(
        join(dir, 'Dockerfile'),
        'FROM scratch\nCOPY rootfs/ /\nARG RUN_NUMBER\nRUN --mount=type=cache,target=/var/cache/runs echo "$RUN_NUMBER" >> /var/cache/runs/log && echo "runs: $(cat /var/cache/runs/log | tr \'\\n\' \' \')"\n',
      );
    }
    return (n: number) => ({ context: 'runapp', tags: 'kiln-test/runapp:1', 'build-args': `RUN_NUMBER=${n}` });
  };

  it('carries a RUN cache mount to the next workflow run on a fresh runner, and saves it only when a RUN used it', async () => {
    const inputs = runApp();
    const first = await runJob(job(tagPush('v9.0.0'), {}, inputs(1)));
    expect(first.main.code).toBe(0);
    expect(first.main.stdout).toMatch(/runs: 1 $/m);
    expect(first.post!.stdout).toMatch(/saved 1 RUN cache mount \(.* MiB\) as kiln-mounts-v1-/);

    // A fresh runner (empty home and store): the mount comes back with what the first run put there.
    const second = await runJob(job(tagPush('v9.0.0'), {}, inputs(2)));
    expect(second.main.code).toBe(0);
    expect(second.main.stdout).toMatch(/restored the RUN cache mounts kiln-mounts-v1-/);
    expect(second.main.stdout).toMatch(/runs: 1 2 $/m);

    // The same build again: the layer cache answers the RUN, so the mounts are not saved again.
    const third = await runJob(job(tagPush('v9.0.0'), {}, inputs(2)));
    expect(third.main.code).toBe(0);
    expect(third.main.stdout).not.toMatch(/^#\d+ \d+\.\d{3} runs: /m);
    expect(third.post!.stdout).toMatch(/no RUN used a cache mount in this job/);
  }, 120_000);

  it('keeps the saved mounts within cache-mounts-limit: a mount bigger than the bound is not saved', async () => {
    const inputs = { ...runApp()(3), 'build-args': 'RUN_NUMBER=3\nBIG=1', 'cache-key': 'big', 'cache-mounts-limit': '1' };
    writeFileSync(join(ws, 'runapp', 'big.Dockerfile'), 'FROM scratch\nCOPY rootfs/ /\nRUN --mount=type=cache,target=/big head -c 2097152 /dev/zero > /big/blob\n');
    const r = await runJob(job(tagPush('v9.0.0'), {}, { ...inputs, file: 'runapp/big.Dockerfile' }));
    expect(r.main.code).toBe(0);
    expect(r.post!.stdout).toMatch(/::warning::RUN cache mounts: none fits in cache-mounts-limit \(1 MiB\): nothing saved/);
  }, 60_000);
});

describeNeeding([ROOT, ...tools('sudo', 'runc', 'busybox', 'git')], 'the Action as a user with passwordless sudo (a hosted runner)', () => {
  let user: TestUser;
  beforeAll(() => {
    user = makeTestUser('kiln-action-test');
    chmodSync(work, 0o755); // the job's user reads the checkout
  });
  afterAll(() => user?.remove());

  it('builds a RUN with a secret and a cache mount through sudo, and carries the mount to the next run', async () => {
    const dir = join(ws, 'sudoapp');
    mkdirSync(dir, { recursive: true });
    makeRootfs(join(dir, 'rootfs'));
    writeFileSync(
      join(dir, 'Dockerfile'),
      'FROM scratch\nCOPY rootfs/ /\nARG N\nRUN --mount=type=secret,id=TOKEN,env=TOKEN --mount=type=cache,target=/var/cache/npm ' +
        'echo "$N:${#TOKEN}" >> /var/cache/npm/log && echo "log: $(cat /var/cache/npm/log | tr \'\\n\' \' \')" && echo "token: $TOKEN"\n',
    );
    // The checkout is the job user's, as on a runner.
    execFileSync('chown', ['-R', `${user.uid}:${user.gid}`, dir]);
    const secret = 'hosted-runner-secret-91c2';
    const asRunner = (n: number) => {
      const j = job(tagPush('v9.1.0'), {}, { context: 'sudoapp', tags: 'kiln-test/sudoapp:1', 'build-args': `N=${n}`, 'cache-key': 'sudo', secrets: `TOKEN=${secret}` }, {
        PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      });
      execFileSync('chown', ['-R', `${user.uid}:${user.gid}`, j.home]);
      return { ...j, user: { uid: user.uid, gid: user.gid } };
    };
    const first = await runJob(asRunner(1));
    expect(first.main.stderr).toBe('');
    if (first.main.code !== 0) throw new Error(first.main.stdout.split('\n').filter((l) => !l.startsWith('::debug')).join('\n'));
    expect(first.main.stdout).toContain(`::add-mask::${secret}`);
    expect(first.main.stdout).toMatch(/log: 1:25 $/m);
    expect(first.main.stdout).toMatch(/token: \*\*\*\*$/m);
    expect(first.main.stdout.split(`::add-mask::${secret}`).join('')).not.toContain(secret);
    expect(first.post!.stdout).toMatch(/saved 1 RUN cache mount/);

    const second = await runJob(asRunner(2));
    expect(second.main.code).toBe(0);
    expect(second.main.stdout).toMatch(/log: 1:25 2:25 $/m);
  }, 180_000);
});
