// `kiln run`, `kiln ps`, `kiln rm` and `kiln commit`: a container in the foreground on the RUN
// sandbox (runc over an overlay of the image, as root, through sudo or rootless), for smoke
// tests in CI. As docker, a container is kept after it ends unless --rm: its changes are kept
// as one layer, which `kiln commit` makes an image of.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { KilnError } from '../errors.js';
import type { ContainerRecord } from '../contracts/containers.js';
import { parseDockerfile, typeInstruction } from '../dockerfile/index.js';
import type { EscapeToken } from '../dockerfile/shell.js';
import { describeImage, findImage, listCatalog, normalizedRef, type CatalogImage } from '../engine/image-catalog.js';
import { RootfsView } from '../engine/rootfs.js';
import { fetchMissingLayers } from './registry-options.js';
import { ArgScope, Expander, setEnv, varsFromEnv } from '../engine/scope.js';
import { stepFor } from '../engine/steps/index.js';
import type { StepInput, StepServices } from '../engine/steps/step.js';
import { manifestFor } from '../oci/image.js';
import type { ImageConfig } from '../oci/types.js';
import { MediaTypes } from '../oci/media-types.js';
import { executeRun } from '../run/step-runner.js';
import { openStore } from '../store/store.js';
import type { ContentStore } from '../store/types.js';
import { formatRows } from './format.js';
import { removeEach } from './images.js';
import { since } from './human-units.js';
import type { CliIo } from './io.js';
import { helpRequested, InterruptedError, UsageError } from './usage.js';

// ---- kiln run ------------------------------------------------------------------------------

const RUN_HELP = `Usage: kiln run [OPTIONS] IMAGE [COMMAND] [ARG...]

Run a command in a new container from an image of the store, in the foreground (on the RUN
sandbox: runc over an overlay of the image). Its exit code is kiln's; Ctrl-C stops it. The
container is kept (kiln ps -a, kiln commit) unless --rm.

Options:
      --rm                 Remove the container when it exits (nothing is kept)
      --name NAME          Name the container (default: a random one)
  -e, --env K=V            Set a variable (K alone takes this environment's value; repeatable)
      --env-file FILE      Read variables from FILE, one K=V per line (repeatable)
  -w, --workdir DIR        Working directory inside the container
  -u, --user USER[:GROUP]  User to run as
  -v, --volume HOST:CTR[:ro]  Bind a host file or directory (repeatable)
      --network host|none  Network (default host; none: only a loopback interface)
      --entrypoint CMD     Override the image's ENTRYPOINT
      --store DIR          Kiln store

  -i, --interactive        Give the container this stdin
  -t, --tty                Give the container a terminal (this one must be one); -it for a shell

Not supported: -d (detached containers), -p (port publishing: use --network host). -i and -t
need kiln itself as root or rootless (through sudo, run sudo kiln run -it ...).

Example:
  kiln run --rm app:1 node --version
`;

/** Options that take a value, by every name they have. */
const RUN_VALUE_OPTIONS: Record<string, string> = {
  '--name': 'name', '-e': 'env', '--env': 'env', '--env-file': 'envFile', '-w': 'workdir', '--workdir': 'workdir',
  '-u': 'user', '--user': 'user', '-v': 'volume', '--volume': 'volume', '--network': 'network', '--net': 'network',
  '--entrypoint': 'entrypoint', '--store': 'store',
};
const RUN_FLAGS: Record<string, string> = {
  '--rm': 'rm', '--help': 'help', '-h': 'help', '-i': 'interactive', '--interactive': 'interactive', '-t': 'tty', '--tty': 'tty',
  '-it': 'interactive+tty', '-ti': 'interactive+tty',
};
const REFUSED: Record<string, string> = {
  '-d': 'detached containers (-d) are not supported: kiln run stays in the foreground',
  '--detach': 'detached containers (-d) are not supported: kiln run stays in the foreground',
  '-p': 'port publishing (-p) is not supported: the container uses the host network (--network host)',
  '--publish': 'port publishing (-p) is not supported: the container uses the host network (--network host)',
};

interface RunOptions {
  rm: boolean;
  help?: boolean;
  interactive?: boolean;
  tty?: boolean;
  name?: string;
  env: string[];
  envFile: string[];
  workdir?: string;
  user?: string;
  volume: string[];
  network?: string;
  entrypoint?: string;
  store?: string;
  image: string;
  command: string[];
}

/** docker's rule: options end at the image name; everything after it is the command. */
function parseRunArgs(args: readonly string[]): RunOptions {
  const out: RunOptions = { rm: false, env: [], envFile: [], volume: [], image: '', command: [] };
  const lists = new Set(['env', 'envFile', 'volume']);
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('-') || arg === '-') {
      out.image = arg;
      out.command = args.slice(i + 1);
      return out;
    }
    const [flag, inline] = arg.includes('=') && arg.startsWith('--') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    if (REFUSED[flag]) throw new KilnError(REFUSED[flag]);
    if (RUN_FLAGS[flag]) {
      for (const key of RUN_FLAGS[flag].split('+')) (out as unknown as Record<string, boolean>)[key] = true;
      if (out.help) return out;
      continue;
    }
    const key = RUN_VALUE_OPTIONS[flag];
    if (!key) throw new UsageError(`unknown flag: ${flag} (kiln run --help lists them)`);
    const value = inline ?? args[++i];
    if (value === undefined) throw new UsageError(`flag needs an argument: ${flag}`);
    if (lists.has(key)) (out as unknown as Record<string, string[]>)[key]!.push(value);
    else (out as unknown as Record<string, string>)[key] = value;
  }
  throw new UsageError('kiln run needs an IMAGE (kiln run [OPTIONS] IMAGE [COMMAND] [ARG...])');
}

/** The container's environment: the image's, then --env-file lines, then -e (docker's order). */
function containerEnv(image: CatalogImage, o: RunOptions): string[] {
  let env = [...(image.config.config?.Env ?? [])];
  const set = (entry: string) => {
    const eq = entry.indexOf('=');
    if (eq === 0) throw new KilnError(`invalid environment variable: ${entry}`);
    if (eq < 0) {
      // `-e NAME`: this environment's value, or nothing when it has none.
      if (process.env[entry] !== undefined) env = setEnv(env, entry, process.env[entry]!);
      return;
    }
    env = setEnv(env, entry.slice(0, eq), entry.slice(eq + 1));
  };
  for (const file of o.envFile) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new KilnError(`--env-file ${file}: ${(err as Error).message}`);
    }
    for (const line of text.split('\n').map((l) => l.trim())) if (line && !line.startsWith('#')) set(line);
  }
  for (const entry of o.env) set(entry);
  if (!env.some((e) => e.startsWith('PATH='))) env.push('PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
  return env;
}

function parseVolume(spec: string): { source: string; destination: string; readonly: boolean } {
  const parts = spec.split(':');
  if (parts.length < 2 || parts.length > 3 || !parts[0] || !parts[1]?.startsWith('/')) {
    throw new KilnError(`-v ${spec}: use HOST_PATH:CONTAINER_PATH[:ro] (named volumes are not supported)`);
  }
  if (parts[2] !== undefined && parts[2] !== 'ro' && parts[2] !== 'rw') throw new KilnError(`-v ${spec}: the mode must be ro or rw`);
  return { source: resolve(parts[0]), destination: parts[1], readonly: parts[2] === 'ro' };
}

const ADJECTIVES = ['brave', 'calm', 'eager', 'fond', 'keen', 'lucid', 'merry', 'noble', 'quiet', 'swift'];
const NOUNS = ['anvil', 'bellows', 'crucible', 'ember', 'flux', 'forge', 'glaze', 'kiln', 'slag', 'tongs'];

export async function runCommand(args: string[], io: CliIo): Promise<number> {
  const o = parseRunArgs(args);
  if (o.help) return void io.stdout(RUN_HELP), 0;
  if (o.network !== undefined && o.network !== 'host' && o.network !== 'none' && o.network !== 'default') {
    throw new KilnError(`--network ${o.network}: use host or none`);
  }
  if (o.tty && !process.stdin.isTTY) throw new KilnError('the input device is not a TTY: drop -t, or run kiln run -t in a terminal');
  const store = await openStore(o.store);
  const interrupt = new AbortController();
  const onSignal = () => interrupt.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    // One lease from resolving the image to saving the container: a prune waits for all of it.
    return await store.withLease(() => runContainer(store, o, io, interrupt.signal), { signal: interrupt.signal });
  } catch (err) {
    if (interrupt.signal.aborted) throw new InterruptedError('SIGINT');
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

async function runContainer(store: ContentStore, o: RunOptions, io: CliIo, signal: AbortSignal): Promise<number> {
  const containers = await store.listContainers();
  if (o.name !== undefined) {
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(o.name)) throw new KilnError(`invalid container name "${o.name}": use letters, digits, _ . -`);
    if (containers.some((c) => c.name === o.name)) {
      throw new KilnError(`Conflict. The container name "${o.name}" is already in use: remove it (kiln rm ${o.name}) or choose another name`);
    }
  }
  const image = findImage(await listCatalog(store), o.image);
  const c = image.config.config ?? {};
  const entrypoint = o.entrypoint !== undefined ? (o.entrypoint === '' ? [] : [o.entrypoint]) : (c.Entrypoint ?? []);
  const cmd = o.command.length ? o.command : o.entrypoint !== undefined ? [] : (c.Cmd ?? []);
  const argv = [...entrypoint, ...cmd];
  if (argv.length === 0) throw new KilnError(`no command specified: ${o.image} has no ENTRYPOINT or CMD; give one after the image name`);
  const env = containerEnv(image, o);
  const cwd = o.workdir ?? (c.WorkingDir || '/');
  const user = o.user ?? c.User ?? '';
  const created = Date.now();
  await fetchMissingLayers(store, (fetch) => fetch(image.layers));
  const lower = await new RootfsView(store, image.layers).index();
  const result = await executeRun(
        store,
        {
          layers: image.layers,
          lower: [...lower],
          args: argv,
          env,
          secretEnv: [],
          cwd,
          user,
          network: o.network === 'none' ? 'none' : 'host',
          binds: o.volume.map(parseVolume),
          tmpfs: [],
          memoryFiles: [],
          sockets: [],
          layer: { epoch: Math.floor(created / 1000), compression: 'none' },
          ownership: [],
          removeAfter: [],
          changes: o.rm ? 'never' : 'always',
          ...(o.interactive || o.tty ? { attach: { tty: !!o.tty } } : {}),
        },
        {
          onOutput: (stream, chunk) => (stream === 'stdout' ? io.stdout(chunk.toString()) : io.stderr(chunk.toString())),
          onWarning: (message) => io.stderr(`WARNING: ${message}\n`),
          signal,
        },
      );
  if (!o.rm) {
    const id = randomBytes(32).toString('hex');
    const name = o.name ?? `${ADJECTIVES[id.charCodeAt(0) % ADJECTIVES.length]}_${NOUNS[id.charCodeAt(1) % NOUNS.length]}_${id.slice(0, 6)}`;
    const layer = result.layer && result.layer.entries > 0 ? { digest: result.layer.digest, diffId: result.layer.diffId, size: result.layer.size, mediaType: result.layer.mediaType } : null;
    const config = { Entrypoint: entrypoint.length ? entrypoint : null, Cmd: cmd.length ? cmd : null, Env: env, WorkingDir: cwd, User: user };
    await store.saveContainer({ id, name, image: o.image, imageDigest: image.digest, command: argv, created, finished: Date.now(), exitCode: result.exitCode, layer, config });
  }
  return result.exitCode;
}

// ---- kiln ps / rm --------------------------------------------------------------------------

const PS_HELP = `Usage: kiln ps [OPTIONS]

List containers. kiln run runs in the foreground, so none is running while kiln ps runs:
-a lists the ones kept after they ended.

Options:
  -a, --all             Show all containers (the ended ones)
  -q, --quiet           Only show container IDs
      --no-trunc        Do not truncate
      --format STRING   A Go template ({{.ID}}, {{.Image}}, {{.Command}}, {{.CreatedAt}},
                        {{.RunningFor}}, {{.Status}}, {{.Names}}), "table ...", or json
      --store DIR       Kiln store

Example:
  kiln ps -a --format '{{.Names}} {{.Status}}'
`;

function findContainer(containers: readonly ContainerRecord[], name: string): ContainerRecord {
  const exact = containers.find((c) => c.name === name || c.id === name);
  if (exact) return exact;
  const byPrefix = /^[0-9a-f]+$/.test(name) ? containers.filter((c) => c.id.startsWith(name)) : [];
  if (byPrefix.length > 1) throw new KilnError(`Multiple IDs found with provided prefix: ${name}`);
  if (!byPrefix[0]) throw new KilnError(`No such container: ${name} (\`kiln ps -a\` lists them)`);
  return byPrefix[0];
}

export async function psCommand(args: string[], io: CliIo): Promise<number> {
  if (helpRequested(args)) return void io.stdout(PS_HELP), 0;
  const { values } = parseArgs({
    args,
    options: { all: { type: 'boolean', short: 'a' }, quiet: { type: 'boolean', short: 'q' }, 'no-trunc': { type: 'boolean' }, format: { type: 'string' }, store: { type: 'string' } },
  });
  const store = await openStore(values.store);
  const now = Date.now();
  const rows = (values.all ? await store.listContainers() : []).map((c) => {
    const command = c.command.join(' ');
    return {
      ID: values['no-trunc'] ? c.id : c.id.slice(0, 12),
      Image: c.image,
      Command: JSON.stringify(values['no-trunc'] ? command : command.length > 20 ? `${command.slice(0, 19)}…` : command),
      CreatedAt: new Date(c.created).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' +0000 UTC'),
      RunningFor: since(c.created, now),
      Status: `Exited (${c.exitCode}) ${since(c.finished, now)}`,
      Ports: '',
      Names: c.name,
    };
  });
  io.stdout(
    formatRows({
      format: values.format,
      quiet: values.quiet,
      defaultTable: 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}',
      headers: { ID: 'CONTAINER ID', Image: 'IMAGE', Command: 'COMMAND', CreatedAt: 'CREATED AT', RunningFor: 'CREATED', Status: 'STATUS', Ports: 'PORTS', Names: 'NAMES' },
      rows,
    }),
  );
  return 0;
}

const RM_HELP = `Usage: kiln rm CONTAINER [CONTAINER...]

Remove containers kept by kiln run (by name or ID); what only they kept leaves the disk.

Example:
  kiln rm smoke-test
`;

export async function rmCommand(args: string[], io: CliIo): Promise<number> {
  if (helpRequested(args)) return void io.stdout(RM_HELP), 0;
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { force: { type: 'boolean', short: 'f' }, store: { type: 'string' } } });
  if (positionals.length === 0) throw new UsageError('kiln rm needs at least one CONTAINER');
  const store = await openStore(values.store);
  return removeEach(store, positionals, io, async (name) => {
    await store.removeContainer(findContainer(await store.listContainers(), name).id);
    return `${name}\n`;
  });
}

// ---- kiln commit ---------------------------------------------------------------------------

const COMMIT_HELP = `Usage: kiln commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]

Create an image from a container's changes: the image it ran plus one layer of what it changed.

Options:
  -a, --author STRING    Author (e.g. "Jane Doe <jane@example.com>")
  -c, --change LINE      Apply a Dockerfile instruction to the image config: CMD, ENTRYPOINT,
                         ENV, EXPOSE, LABEL, USER, WORKDIR, VOLUME, ONBUILD, STOPSIGNAL,
                         HEALTHCHECK (repeatable)
  -m, --message STRING   Commit message (shown as the COMMENT in kiln history)
      --store DIR        Kiln store

Example:
  kiln commit -m "add curl" -c 'CMD ["curl", "--version"]' smoke-test tools:1
`;

const CHANGE_KINDS = new Set(['CMD', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'LABEL', 'USER', 'WORKDIR', 'VOLUME', 'ONBUILD', 'STOPSIGNAL', 'HEALTHCHECK']);

/**
 * `--change` lines applied to `config` by the build's own instruction steps (the same rules as in
 * a Dockerfile: shell form, expansion of the image's variables), with no history of their own.
 */
async function applyChanges(store: ContentStore, config: ImageConfig, changes: readonly string[]): Promise<void> {
  if (changes.length === 0) return;
  const ast = parseDockerfile(`FROM scratch\n${changes.join('\n')}\n`);
  const expander = new Expander(ast.escapeToken as EscapeToken);
  const stage = { scope: new ArgScope(new Map(), new Set()), vars: varsFromEnv(config.config?.Env ?? []), cmdSet: false };
  // Only what the metadata steps call: their config change is all commit needs.
  const services = { store, expander, metadataStep: async (state: unknown) => ({ state, cached: false }) } as unknown as StepServices;
  for (const node of ast.instructions.slice(1)) {
    const instruction = typeInstruction(node, '--change');
    if (!CHANGE_KINDS.has(instruction.kind)) throw new KilnError(`--change ${node.original}: ${instruction.kind} cannot be changed by commit (use ${[...CHANGE_KINDS].join(', ')})`);
    const input = {
      instruction,
      state: undefined,
      config,
      stage,
      expand: (word: string) => expander.word(word, stage.vars),
      output: () => undefined,
      build: services,
    } as unknown as StepInput;
    await stepFor(instruction)(input);
  }
}

export async function commitCommand(args: string[], io: CliIo): Promise<number> {
  if (helpRequested(args)) return void io.stdout(COMMIT_HELP), 0;
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      author: { type: 'string', short: 'a' },
      change: { type: 'string', short: 'c', multiple: true },
      message: { type: 'string', short: 'm' },
      pause: { type: 'boolean', short: 'p' },
      store: { type: 'string' },
    },
  });
  if (positionals.length < 1 || positionals.length > 2) throw new UsageError('kiln commit needs CONTAINER and, optionally, REPOSITORY[:TAG]');
  const store = await openStore(values.store);
  const digest = await store.withLease(async () => {
    const container = findContainer(await store.listContainers(), positionals[0]!);
    // By digest: the image may have lost its tags and its record (rmi -f) and still be kept.
    const image = await describeImage(store, container.imageDigest, 0, []);
    if (!image) throw new KilnError(`the image container ${container.name} ran (${container.imageDigest}) is no longer in the store`);
    return commitContainer(store, container, image, values, positionals[1]);
  });
  io.stdout(`${digest}\n`);
  return 0;
}

async function commitContainer(
  store: ContentStore,
  container: ContainerRecord,
  image: CatalogImage,
  values: { author?: string; change?: string[]; message?: string; },
  tag?: string,
): Promise<string> {
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const config: ImageConfig = JSON.parse(JSON.stringify(image.config)) as ImageConfig;
  // The container's own settings, then --change, as docker commit.
  config.config = { ...(config.config ?? {}), ...container.config };
  await applyChanges(store, config, values.change ?? []);
  config.created = now;
  if (values.author !== undefined) config.author = values.author;
  const layers = container.layer ? [...image.layers, container.layer] : image.layers;
  config.rootfs = { type: 'layers', diff_ids: layers.map((l) => l.diffId) };
  config.history = [
    ...(config.history ?? []),
    {
      created: now,
      created_by: container.command.join(' '),
      ...(values.author !== undefined ? { author: values.author } : {}),
      ...(values.message !== undefined ? { comment: values.message } : {}),
      ...(container.layer ? {} : { empty_layer: true }),
    },
  ];
  const configBlob = await store.writeJson(config);
  const manifest = manifestFor(
    { mediaType: MediaTypes.ociConfig, digest: configBlob.digest, size: configBlob.size },
    layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  );
  const written = await store.writeJson(manifest);
  await store.addImage(written.digest);
  if (tag) await store.setRef(normalizedRef(tag), written.digest);
  return configBlob.digest;
}
