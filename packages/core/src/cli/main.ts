// The `kiln` command line: the only part of Kiln that prints.

import { readFileSync } from 'node:fs';
import { KilnError } from '../errors.js';
import { buildCommand } from './build.js';
import { commitCommand, psCommand, rmCommand, runCommand } from './containers.js';
import { debugCommand } from './debug.js';
import { historyCommand, imagesCommand, inspectCommand, rmiCommand, tagCommand } from './images.js';
import { builderPruneCommand, imagePruneCommand, systemDfCommand, systemPruneCommand } from './prune.js';
import { saveCommand } from './save.js';
import { loadCommand } from './load.js';
import { loginCommand, logoutCommand } from './login.js';
import { pullCommand, pushCommand } from './pull-push.js';
import { processIo, type CliIo, type Command } from './io.js';
import { helpRequested, InterruptedError, USAGE, UsageError, verbHelp } from './usage.js';

export { processIo, type CliIo } from './io.js';

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
