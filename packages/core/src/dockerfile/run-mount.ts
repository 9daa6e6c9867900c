// `RUN --mount=...`: the flag's CSV fields as BuildKit's Dockerfile frontend reads them
// (instructions/commands_runmount.go): the types bind (the default), cache, tmpfs, secret and ssh,
// their keys and defaults, and the same refusals, with BuildKit's messages.

import { suggest } from './instructions.js';

export type MountType = 'bind' | 'cache' | 'tmpfs' | 'secret' | 'ssh';
export type CacheSharing = 'shared' | 'private' | 'locked';

export interface RunMount {
  type: MountType;
  /** A stage or image name (bind, cache); '' is the build context (bind) or nothing (cache). */
  from: string;
  source: string;
  /** As written ('' when not given): may be relative to the working directory. */
  target: string;
  readonly: boolean;
  /** tmpfs: bytes, 0 for no limit. */
  size: number;
  /** cache: the cache's id; secret and ssh: which secret or agent. '' when not given. */
  id: string;
  sharing?: CacheSharing;
  required: boolean;
  /** secret: the environment variable that gets the value. */
  env?: string;
  mode?: number;
  uid?: number;
  gid?: number;
}

const TYPES: readonly MountType[] = ['bind', 'cache', 'tmpfs', 'secret', 'ssh'];
const SHARING: readonly CacheSharing[] = ['shared', 'private', 'locked'];
const KEYS = ['type', 'from', 'source', 'target', 'readonly', 'id', 'sharing', 'required', 'size', 'mode', 'uid', 'gid', 'src', 'dst', 'destination', 'ro', 'rw', 'readwrite', 'env'];

/** Thrown with BuildKit's message for a mount that cannot be used. */
export class RunMountError extends Error {}

const hint = (word: string, candidates: readonly string[]) => {
  const close = suggest(word, candidates);
  return close ? ` (did you mean ${close}?)` : '';
};

/** Go's strconv.ParseBool. */
function parseBool(key: string, value: string): boolean {
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(value)) return false;
  throw new RunMountError(`invalid value for ${key}: ${value}`);
}

function parseUint(value: string, base: 8 | 10, what: string): number {
  const re = base === 8 ? /^[0-7]+$/ : /^\d+$/;
  const n = re.test(value) ? parseInt(value, base) : NaN;
  if (!Number.isSafeInteger(n) || n > 0xffffffff) throw new RunMountError(`invalid value ${value} for ${what}`);
  return n;
}

/** docker/go-units RAMInBytes: a number with an optional b, k, m, g, t or p suffix (binary, case-insensitive). */
/** go-units RAMInBytes: `64m`, `1.5GB`, `512kib`, `1024` (binary units); undefined when it is no size. */
export function parseRamInBytes(value: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?) ?([kmgtp]?)(i?b)?$/i.exec(value);
  if (!m) return undefined;
  const power = ' kmgtp'.indexOf((m[2] || ' ').toLowerCase());
  return Math.floor(Number(m[1]) * 1024 ** power);
}

function ramInBytes(value: string): number {
  const bytes = parseRamInBytes(value);
  if (bytes === undefined) throw new RunMountError(`invalid value for size: ${value}`);
  return bytes;
}

/** The fields of one CSV record, as Go's encoding/csv reads them (double quotes group, "" is a quote). */
export function csvFields(line: string): string[] {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (line[i] === '"') {
      i++;
      for (;;) {
        if (i >= line.length) throw new RunMountError(`failed to parse csv mounts: extraneous or missing " in quoted-field`);
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += line[i++];
      }
      if (i < line.length && line[i] !== ',') throw new RunMountError(`failed to parse csv mounts: extraneous or missing " in quoted-field`);
    } else {
      const comma = line.indexOf(',', i);
      field = line.slice(i, comma < 0 ? line.length : comma);
      if (field.includes('"')) throw new RunMountError(`failed to parse csv mounts: bare " in non-quoted-field`);
      i = comma < 0 ? line.length : comma;
    }
    fields.push(field);
    if (i >= line.length) return fields;
    i++; // the comma
  }
}

/**
 * One `--mount` value, its values expanded with `expand` (ARG and ENV; `from` takes none).
 * Throws RunMountError with BuildKit's message.
 */
export function parseRunMount(value: string, expand: (word: string) => string): RunMount {
  const m: RunMount = { type: 'bind', from: '', source: '', target: '', readonly: true, size: 0, id: '', required: false };
  let roAuto = true;
  for (const field of csvFields(value)) {
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).toLowerCase();
    if (eq < 0) {
      switch (key) {
        case 'readonly':
        case 'ro':
          m.readonly = true;
          roAuto = false;
          continue;
        case 'readwrite':
        case 'rw':
          m.readonly = false;
          roAuto = false;
          continue;
        case 'required':
          if (m.type !== 'secret' && m.type !== 'ssh') throw new RunMountError(`unexpected key '${key}' for mount type '${m.type}'`);
          m.required = true;
          continue;
        default:
          throw new RunMountError(`invalid field '${field}' must be a key=value pair`);
      }
    }
    const raw = field.slice(eq + 1);
    if (key === 'from') {
      const dollar = raw.indexOf('$');
      if (dollar !== -1 && dollar !== raw.length - 1) throw new RunMountError(`'from' doesn't support variable expansion, define alias stage instead`);
    }
    const v = key === 'from' ? raw : expand(raw);
    switch (key) {
      case 'type': {
        const type = v.toLowerCase() as MountType;
        if (!TYPES.includes(type)) throw new RunMountError(`unsupported mount type "${v}"${hint(v, TYPES)}`);
        m.type = type;
        break;
      }
      case 'from':
        m.from = v;
        break;
      case 'source':
      case 'src':
        m.source = v;
        break;
      case 'target':
      case 'dst':
      case 'destination':
        m.target = v;
        break;
      case 'readonly':
      case 'ro':
        m.readonly = parseBool(key, v);
        roAuto = false;
        break;
      case 'readwrite':
      case 'rw':
        m.readonly = !parseBool(key, v);
        roAuto = false;
        break;
      case 'required':
        if (m.type !== 'secret' && m.type !== 'ssh') throw new RunMountError(`unexpected key '${key}' for mount type '${m.type}'`);
        m.required = parseBool(key, v);
        break;
      case 'size':
        if (m.type !== 'tmpfs') throw new RunMountError(`unexpected key '${key}' for mount type '${m.type}'`);
        m.size = ramInBytes(v);
        break;
      case 'id':
        m.id = v;
        break;
      case 'sharing': {
        const sharing = v.toLowerCase() as CacheSharing;
        if (!SHARING.includes(sharing)) throw new RunMountError(`unsupported sharing value "${v}"${hint(v, SHARING)}`);
        m.sharing = sharing;
        break;
      }
      case 'mode':
        m.mode = parseUint(v, 8, 'mode');
        break;
      case 'uid':
        m.uid = parseUint(v, 10, 'uid');
        break;
      case 'gid':
        m.gid = parseUint(v, 10, 'gid');
        break;
      case 'env':
        m.env = v;
        break;
      default:
        throw new RunMountError(`unexpected key '${key}' in '${field}'${hint(key, KEYS)}`);
    }
  }
  if (m.type !== 'secret' && m.type !== 'ssh' && m.type !== 'cache') {
    for (const k of ['mode', 'uid', 'gid'] as const) if (m[k] !== undefined) throw new RunMountError(`${k} not allowed for "${m.type}" type mounts`);
  }
  if (roAuto) m.readonly = m.type !== 'cache' && m.type !== 'tmpfs';
  if (m.type === 'secret') {
    if (m.from !== '') throw new RunMountError('secret mount should not have a from');
    if (m.sharing !== undefined) throw new RunMountError('secret mount should not define sharing');
    if (m.source === '' && m.target === '' && m.id === '') throw new RunMountError('invalid secret mount. one of source, target required');
    if (m.source !== '' && m.id !== '') throw new RunMountError("both source and id can't be set");
  }
  if (m.sharing !== undefined && m.type !== 'cache') throw new RunMountError(`invalid cache sharing set for ${m.type} mount`);
  if (m.type === 'ssh' && m.source !== '') throw new RunMountError('ssh does not support source');
  return m;
}

/** The `from=` of each `--mount` (no expansion needed: BuildKit allows none there). */
export function mountSources(values: readonly string[]): string[] {
  const out: string[] = [];
  for (const value of values) {
    let fields: string[];
    try {
      fields = csvFields(value);
    } catch {
      continue; // the step itself reports it, with its line
    }
    for (const field of fields) {
      const eq = field.indexOf('=');
      if (eq > 0 && field.slice(0, eq).toLowerCase() === 'from' && field.length > eq + 1) out.push(field.slice(eq + 1));
    }
  }
  return out;
}
