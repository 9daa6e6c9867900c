// `--secret` and `--ssh` as docker buildx and buildctl read them, for the CLI, the Nx executor
// and the Action alike: `id=ID,src=FILE`, `id=ID,env=VAR`, `type=file|env`, and `id=ID` alone
// (the variable ID when it is set, else the file ID); `default`, `default=SOCKET`, `ID=SOCKET`.

import { readFileSync, statSync } from 'node:fs';
import { KilnError } from '../errors.js';
import { csvFields } from '../dockerfile/run-mount.js';
import { MAX_SECRET_SIZE } from './run-mounts.js';

export interface SecretSource {
  id: string;
  file?: string;
  env?: string;
}

/** One `--secret` value (buildctl's parseSecret). */
export function parseSecretSpec(spec: string, flag = '--secret'): SecretSource {
  let fields: string[];
  try {
    fields = csvFields(spec);
  } catch (err) {
    throw new KilnError(`${flag} ${spec}: ${(err as Error).message.replace('csv mounts', 'csv secret')}`);
  }
  const out: SecretSource = { id: '' };
  let type: string | undefined;
  for (const field of fields) {
    const eq = field.indexOf('=');
    if (eq < 0) throw new KilnError(`${flag} ${spec}: invalid field '${field}' must be a key=value pair`);
    const key = field.slice(0, eq).toLowerCase();
    const value = field.slice(eq + 1);
    switch (key) {
      case 'type':
        if (value !== 'file' && value !== 'env') throw new KilnError(`${flag} ${spec}: unsupported secret type "${value}" (use file or env)`);
        type = value;
        break;
      case 'id':
        out.id = value;
        break;
      case 'source':
      case 'src':
        out.file = value;
        break;
      case 'env':
        out.env = value;
        break;
      default:
        throw new KilnError(`${flag} ${spec}: unexpected key '${key}' in '${field}' (use id, src, env or type)`);
    }
  }
  if (type === 'env' && out.env === undefined) {
    out.env = out.file;
    delete out.file;
  }
  if (out.id === '') throw new KilnError(`${flag} ${spec}: a secret needs an id (id=ID)`);
  return out;
}

/** The secrets' values by id, read now (files at most 500 KiB, as BuildKit allows). */
export function loadSecrets(sources: readonly SecretSource[], env: NodeJS.ProcessEnv = process.env, flag = '--secret'): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  for (const s of sources) {
    let { file, env: variable } = s;
    if (file === undefined && variable === undefined) {
      if (env[s.id] !== undefined) variable = s.id;
      else file = s.id;
    }
    if (variable !== undefined) {
      const value = env[variable];
      if (value === undefined) throw new KilnError(`${flag} id=${s.id}: the environment variable ${variable} is not set`);
      out[s.id] = Buffer.from(value);
      continue;
    }
    let size: number;
    try {
      size = statSync(file!).size;
    } catch (err) {
      throw new KilnError(`${flag} id=${s.id}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
    }
    if (size > MAX_SECRET_SIZE) throw new KilnError(`${flag} id=${s.id}: ${file} is ${size} bytes; a secret may have at most ${MAX_SECRET_SIZE} (500 KiB)`);
    out[s.id] = readFileSync(file!);
  }
  return out;
}

/** `--ssh` values: id -> agent socket path (`default` is $SSH_AUTH_SOCK). */
export function parseSshSpecs(specs: readonly string[], env: NodeJS.ProcessEnv = process.env, flag = '--ssh'): Record<string, string> {
  const out: Record<string, string> = {};
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    const id = eq < 0 ? spec : spec.slice(0, eq);
    if (id === '') throw new KilnError(`${flag} ${spec}: an id is needed (e.g. --ssh default)`);
    const paths = eq < 0 ? [] : spec.slice(eq + 1).split(',').filter(Boolean);
    if (paths.length > 1) throw new KilnError(`${flag} ${spec}: Kiln forwards one agent socket per id`);
    const socket = paths[0] ?? env.SSH_AUTH_SOCK;
    if (!socket) throw new KilnError(`${flag} ${spec}: SSH_AUTH_SOCK is not set; start an agent (eval $(ssh-agent); ssh-add) or name its socket (--ssh ${id}=/path/to/agent.sock)`);
    let isSocket = false;
    try {
      isSocket = statSync(socket).isSocket();
    } catch {
      throw new KilnError(`${flag} ${spec}: no such socket ${socket}`);
    }
    if (!isSocket) throw new KilnError(`${flag} ${spec}: ${socket} is not a socket; Kiln forwards SSH agent sockets, not key files (ssh-add the key to an agent)`);
    out[id] = socket;
  }
  return out;
}
