// `kiln login` and `kiln logout`: Docker's credential store (config.json and its helpers), so a
// login here is seen by docker and by Kiln's pushes and pulls, and the other way round.

import { parseArgs } from 'node:util';
import { KilnError } from '../errors.js';
import { credentialKey, removeCredentials, storeCredentials } from '../registry/credentials.js';
import { UsageError } from './usage.js';
import type { CliIo } from './io.js';

const DEFAULT_SERVER = 'docker.io';

/** `kiln login [-u USER] [-p PASSWORD | --password-stdin] [SERVER]` */
export async function loginCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      username: { type: 'string', short: 'u' },
      password: { type: 'string', short: 'p' },
      'password-stdin': { type: 'boolean' },
    },
    allowPositionals: true,
  });
  if (positionals.length > 1) throw new UsageError('login takes at most one server: kiln login [-u USER] [--password-stdin] [SERVER]');
  const server = positionals[0] ?? DEFAULT_SERVER;
  const username = values.username;
  let password = values.password;
  if (password !== undefined) {
    io.stderr('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
    if (values['password-stdin']) throw new UsageError('--password and --password-stdin are mutually exclusive');
  }
  if (values['password-stdin']) {
    if (username === undefined || username === '') throw new UsageError('Must provide --username with --password-stdin');
    const input = Buffer.from(await io.readStdin()).toString('utf8');
    password = input.replace(/\n$/, '').replace(/\r$/, '');
  }
  if (password === undefined) {
    throw new UsageError(
      'kiln login does not prompt; give the password on stdin: echo "$TOKEN" | kiln login -u USER --password-stdin [SERVER]',
    );
  }
  if (username === undefined || username === '') throw new UsageError('login needs a user name: -u USER');
  if (password === '') throw new KilnError('the password is empty (was stdin empty?)');
  if (credentialKey(server) === '') throw new UsageError(`not a registry server: "${server}"`);

  // The credentials are stored without checking them against the registry: the registry client
  // (registry/client.ts) that would ping /v2/ with them is not part of this change yet. A wrong
  // password shows up on the first pull or push instead of here.
  const { file, helper } = await storeCredentials(server, { username, password });
  if (!helper) {
    io.stderr(
      `WARNING! Your password will be stored unencrypted in ${file}.\n` +
        'Configure a credential helper to remove this warning. See\n' +
        'https://docs.docker.com/go/credential-store/\n\n',
    );
  }
  io.stdout('Login Succeeded\n');
  return 0;
}

/** `kiln logout [SERVER]` */
export async function logoutCommand(args: string[], io: CliIo): Promise<number> {
  const { positionals } = parseArgs({ args, options: {}, allowPositionals: true });
  if (positionals.length > 1) throw new UsageError('logout takes at most one server: kiln logout [SERVER]');
  const server = positionals[0] ?? DEFAULT_SERVER;
  const key = credentialKey(server);
  if (key === '') throw new UsageError(`not a registry server: "${server}"`);
  // Docker prints this before erasing, whether or not anything was stored.
  io.stdout(`Removing login credentials for ${key}\n`);
  await removeCredentials(server);
  return 0;
}
