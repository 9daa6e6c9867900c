// The `kiln` command line: the only part of Kiln that prints.

import { readFileSync } from 'node:fs';
import { KilnError } from '../errors.js';
import { processIo, type CliIo, type Command } from './io.js';
import { helpRequested, InterruptedError, USAGE, UsageError, verbHelp } from './usage.js';

export { processIo, type CliIo } from './io.js';

/**
 * A verb loaded when it runs: `kiln --version` or `kiln images` does not load the build engine,
 * the registry client or compression (the bundle splits each verb's module into its own chunk).
 */
function lazy<M, K extends keyof M>(load: () => Promise<M>, name: K): Command {
  return async (args, io) => ((await load())[name] as unknown as Command)(args, io);
}

const buildCommand = lazy(() => import('./build.js'), 'buildCommand');
const commitCommand = lazy(() => import('./containers.js'), 'commitCommand');
const psCommand = lazy(() => import('./containers.js'), 'psCommand');
const rmCommand = lazy(() => import('./containers.js'), 'rmCommand');
const runCommand = lazy(() => import('./containers.js'), 'runCommand');
const debugCommand = lazy(() => import('./debug.js'), 'debugCommand');
const historyCommand = lazy(() => import('./images.js'), 'historyCommand');
const imagesCommand = lazy(() => import('./images.js'), 'imagesCommand');
const inspectCommand = lazy(() => import('./images.js'), 'inspectCommand');
const rmiCommand = lazy(() => import('./images.js'), 'rmiCommand');
const tagCommand = lazy(() => import('./images.js'), 'tagCommand');
const builderPruneCommand = lazy(() => import('./prune.js'), 'builderPruneCommand');
const imagePruneCommand = lazy(() => import('./prune.js'), 'imagePruneCommand');
const systemDfCommand = lazy(() => import('./prune.js'), 'systemDfCommand');
const systemPruneCommand = lazy(() => import('./prune.js'), 'systemPruneCommand');
const saveCommand = lazy(() => import('./save.js'), 'saveCommand');
const loadCommand = lazy(() => import('./load.js'), 'loadCommand');
const loginCommand = lazy(() => import('./login.js'), 'loginCommand');
const logoutCommand = lazy(() => import('./login.js'), 'logoutCommand');
const pullCommand = lazy(() => import('./pull-push.js'), 'pullCommand');
const pushCommand = lazy(() => import('./pull-push.js'), 'pushCommand');

/** `kiln image VERB`, `kiln builder VERB`, `kiln system VERB`: docker's management commands. */
function group(name: string, verbs: Record<string, Command>): Command {
  return async (args, io) => {
    const [verb, ...rest] = args;
    const command = verb === undefined ? undefined : verbs[verb];
    if (!command) {
      if (verb === undefined || verb === '--help' || verb === '-h') {
        io.stdout(`Usage: kiln ${name} COMMAND\n\nCommands:\n${Object.keys(verbs).map((v) => `  ${v}\n`).join('')}`);
        return verb === undefined ? 2 : 0;
      }
      throw new UsageError(`unknown command: kiln ${name} ${verb} (kiln ${name} --help lists them)`);
    }
    return command(rest, io);
  };
}

const COMMANDS: Record<string, Command> = {
  build: buildCommand,
  commit: commitCommand,
  container: group('container', { commit: commitCommand, list: psCommand, ls: psCommand, ps: psCommand, rm: rmCommand, run: runCommand }),
  builder: group('builder', { prune: builderPruneCommand }),
  debug: debugCommand,
  history: historyCommand,
  image: group('image', {
    build: buildCommand,
    history: historyCommand,
    inspect: inspectCommand,
    load: loadCommand,
    ls: imagesCommand,
    list: imagesCommand,
    prune: imagePruneCommand,
    pull: pullCommand,
    push: pushCommand,
    rm: rmiCommand,
    save: saveCommand,
    tag: tagCommand,
  }),
  images: imagesCommand,
  inspect: inspectCommand,
  load: loadCommand,
  login: loginCommand,
  logout: logoutCommand,
  ps: psCommand,
  pull: pullCommand,
  push: pushCommand,
  rm: rmCommand,
  rmi: rmiCommand,
  run: runCommand,
  save: saveCommand,
  system: group('system', { df: systemDfCommand, prune: systemPruneCommand }),
  tag: tagCommand,
};

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Run one kiln invocation; resolves to the process exit code. */
export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
  const [verb, ...args] = argv;
  try {
    if (verb === undefined || verb === '-h' || verb === '--help' || verb === 'help') {
      io.stdout(USAGE);
      return verb === undefined ? 2 : 0;
    }
    if (verb === '--version') {
      io.stdout(`kiln ${version()}\n`);
      return 0;
    }
    const command = COMMANDS[verb];
    if (!command) throw new UsageError(`unknown command: ${verb}`);
    const help = helpRequested(args) ? verbHelp(verb) : undefined;
    if (help) {
      io.stdout(help);
      return 0;
    }
    return await command(args, io);
  } catch (err) {
    return reportError(err, io);
  }
}

function reportError(err: unknown, io: CliIo): number {
  if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    io.stderr(`kiln: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (err instanceof InterruptedError) {
    io.stderr('kiln: interrupted\n');
    return err.exitCode;
  }
  if (err instanceof KilnError) {
    io.stderr(`error: ${err.message}\n`);
    return 1;
  }
  // A file Kiln may not read or write (a context directory of another user, a store made by root)
  // is the user's to fix, not a bug.
  const sys = err as NodeJS.ErrnoException;
  if ((sys?.code === 'EACCES' || sys?.code === 'EPERM') && sys.path) {
    io.stderr(`error: permission denied: ${sys.syscall ?? 'access'} ${sys.path}: give this user access to it, or run kiln as its owner\n`);
    return 1;
  }
  // A bug in Kiln, not in the user's input: say so; the stack only on request.
  const detail = err instanceof Error ? (process.env.KILN_DEBUG ? (err.stack ?? err.message) : err.message) : String(err);
  io.stderr(`kiln: internal error: ${detail}${process.env.KILN_DEBUG ? '' : ' (set KILN_DEBUG=1 for details)'}\n`);
  return 1;
}
