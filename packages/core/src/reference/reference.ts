/**
 * Image references ("nginx", "ghcr.io/org/app:1.2", "x@sha256:…"), parsed and
 * normalized the way Docker does it (github.com/distribution/reference:
 * ParseNormalizedNamed followed by TagNameOnly).
 *
 * Grammar (distribution/reference):
 *
 *   reference        := name [ ":" tag ] [ "@" digest ]
 *   name             := [ domain "/" ] path
 *   domain           := host [ ":" port ]
 *   host             := domain-name | "[" IPv6 "]"
 *   domain-name      := domain-component ( "." domain-component )*
 *   domain-component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
 *   path             := path-component ( "/" path-component )*
 *   path-component   := [a-z0-9]+ ( separator [a-z0-9]+ )*
 *   separator        := "." | "_" | "__" | "-"+
 *   tag              := [\w][\w.-]{0,127}
 *
 * Normalization ("familiar" name -> full name):
 *   - the first "/"-separated component is the registry domain when it is
 *     "localhost", contains "." or ":", or contains an uppercase letter
 *     (uppercase is never valid in a path, so it must be a host name);
 *     otherwise the domain is "docker.io";
 *   - "index.docker.io" is rewritten to "docker.io";
 *   - on docker.io a single-component path gets the "library/" namespace;
 *   - "latest" is added when neither a tag nor a digest is given.
 *
 * Rejected: an empty string, a bare 64-character lowercase hex string (it is
 * indistinguishable from an image ID), uppercase in the path, a path (the
 * part after the domain) longer than 255 characters, a malformed tag, and a
 * digest that is not sha256/sha384/sha512 with the exact number of lowercase
 * hex digits.
 */
import { KilnError } from '../errors.js';

export interface ImageReference {
  /**
   * Registry host, with optional port: 'docker.io', 'localhost:5000', '[::1]:5000'.
   * Empty only in Docker's corner case where the first component looked like a
   * host ("a_b.c/x") but is not valid host syntax and is therefore read as the
   * first path component instead.
   */
  domain: string;
  /** Repository path inside the registry: 'library/nginx', 'user/app'. */
  path: string;
  /** As given, or 'latest' filled in by parseReference when neither tag nor digest was given. */
  tag?: string;
  /** 'sha256:<64 hex>' (or sha384 / sha512). */
  digest?: string;
}

/** Thrown by parseReference. `message` names the input, the problem and the fix. */
export class InvalidReferenceError extends KilnError {
  constructor(
    /** The string that failed to parse, exactly as given. */
    readonly input: string,
    /** What is wrong and what to do, without the input prefix. */
    readonly reason: string,
  ) {
    super(`invalid image reference ${quote(input)}: ${reason}`);
  }
}

const DEFAULT_DOMAIN = 'docker.io';
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
const LOCALHOST = 'localhost';
const OFFICIAL_REPO_PREFIX = 'library/';
const DEFAULT_TAG = 'latest';
/** Maximum length of the path (the domain does not count). */
const MAX_PATH_LENGTH = 255;
const MAX_TAG_LENGTH = 128;

// Building blocks of the grammar above.
const ALPHANUMERIC = '[a-z0-9]+';
const SEPARATOR = '(?:[._]|__|[-]+)';
const PATH_COMPONENT = `${ALPHANUMERIC}(?:${SEPARATOR}${ALPHANUMERIC})*`;
const PATH = `${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN_NAME = `${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*`;
const IPV6_ADDRESS = '\\[(?:[a-fA-F0-9:]+)\\]';
const DOMAIN_AND_PORT = `(?:${DOMAIN_NAME}|${IPV6_ADDRESS})(?::[0-9]+)?`;

/** A full name; group 1 is the domain (absent when not present), group 2 the path. */
const NAME_RE = new RegExp(`^(?:(${DOMAIN_AND_PORT})/)?(${PATH})$`);
const DOMAIN_RE = new RegExp(`^${DOMAIN_AND_PORT}$`);
const TAG_RE = /^\w[\w.-]{0,127}$/;
/** A tag of any length; TAG_RE adds the length limit. */
const TAG_SHAPE_RE = /^\w[\w.-]*$/;
/** A bare image ID: 64 lowercase hex digits. */
const IDENTIFIER_RE = /^[a-f0-9]{64}$/;
const LOWER_HEX_RE = /^[a-f0-9]*$/;
const HEX_RE = /^[a-fA-F0-9]*$/;
/** Digest algorithms Docker accepts, with the number of hex digits each needs. */
const DIGEST_HEX_LENGTHS: ReadonlyMap<string, number> = new Map([
  ['sha256', 64],
  ['sha384', 96],
  ['sha512', 128],
]);

/**
 * Parses and normalizes an image reference the way `docker pull` does
 * (ParseNormalizedNamed + TagNameOnly): 'nginx' -> docker.io / library/nginx / latest.
 * A tag given together with a digest is kept. Throws InvalidReferenceError.
 */
export function parseReference(input: string): ImageReference {
  if (input === '') {
    throw new InvalidReferenceError(
      input,
      'repository name must have at least one component; give an image name such as "alpine" or "alpine:3.20"',
    );
  }
  if (IDENTIFIER_RE.test(input)) {
    throw new InvalidReferenceError(
      input,
      'invalid repository name, cannot specify 64-byte hexadecimal strings: a bare 64-character hex string ' +
        'looks like an image ID; to pin content write "<name>@sha256:<hex>", or qualify the name ' +
        `(e.g. "docker.io/library/${input}")`,
    );
  }

  const split = splitDockerDomain(input);
  const { name, tag, digest } = splitTagAndDigest(input.slice(split.typedPrefix.length));
  const remotePath = split.libraryAdded ? OFFICIAL_REPO_PREFIX + name : name;

  // The domain is taken from the grammar match, not from splitDockerDomain: like
  // Docker, "a_b.c/x" (looks like a host, is not one) becomes the bare path "a_b.c/x".
  const match = NAME_RE.exec(`${split.domain}/${remotePath}`);
  if (match === null) {
    throw new InvalidReferenceError(input, nameProblem(input, split, name, remotePath, tag, digest));
  }
  const domain = match[1] ?? '';
  const path = match[2] ?? '';

  if (path.length > MAX_PATH_LENGTH) {
    throw new InvalidReferenceError(
      input,
      `repository name must not be more than ${MAX_PATH_LENGTH} characters: the path after the registry ` +
        `(${quote(abbreviate(path))}) has ${path.length}; shorten the name`,
    );
  }
  const problem =
    (tag !== undefined ? tagProblem(tag) : undefined) ?? (digest !== undefined ? digestProblem(digest) : undefined);
  if (problem !== undefined) throw new InvalidReferenceError(input, problem);

  const ref: ImageReference = { domain, path };
  if (tag !== undefined) ref.tag = tag;
  else if (digest === undefined) ref.tag = DEFAULT_TAG;
  if (digest !== undefined) ref.digest = digest;
  return ref;
}

/** The full, normalized string: 'docker.io/library/nginx:latest', 'x@sha256:…', 'x:t@sha256:…'. */
export function formatReference(ref: ImageReference): string {
  return repositoryName(ref) + suffix(ref);
}

/**
 * The short form Docker shows to users (FamiliarString): 'nginx:latest',
 * 'user/app:1', 'localhost:5000/a:t'. Parsing it gives back the same reference.
 */
export function familiarName(ref: ImageReference): string {
  let name: string;
  if (ref.domain === DEFAULT_DOMAIN) {
    name = ref.path;
    if (name.startsWith(OFFICIAL_REPO_PREFIX)) {
      const rest = name.slice(OFFICIAL_REPO_PREFIX.length);
      // "library/a/b" stays as is: without the namespace it would mean "a/b".
      if (!rest.includes('/')) name = rest;
    }
  } else {
    name = repositoryName(ref);
  }
  return name + suffix(ref);
}

/**
 * Whether `input` names its registry ("localhost:5000/app", "ghcr.io/o/app"), by Docker's rule:
 * a first path component with a "." or ":", "localhost", or an uppercase letter. "team/app" and
 * "app" do not (they mean Docker Hub).
 */
export function namesRegistry(input: string): boolean {
  return splitDockerDomain(input).typedPrefix !== '';
}

/** Domain and path without tag or digest: 'docker.io/library/nginx'. */
export function repositoryName(ref: ImageReference): string {
  return ref.domain === '' ? ref.path : `${ref.domain}/${ref.path}`;
}

/** Whether `tag` is a valid tag: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}. */
export function isValidTag(tag: string): boolean {
  return TAG_RE.test(tag);
}

// ---------------------------------------------------------------------------

interface DomainSplit {
  /** Normalized domain ('docker.io' when none was given). */
  domain: string;
  /** The text of the input that named the domain, including the '/', or ''. */
  typedPrefix: string;
  /** Whether 'library/' was put in front of the typed path. */
  libraryAdded: boolean;
}

/** Docker's splitDockerDomain, also reporting how much of the input was the domain. */
function splitDockerDomain(input: string): DomainSplit {
  const slash = input.indexOf('/');
  if (slash === -1) {
    // A single component ("ubuntu", "ubuntu:22.04", even "localhost:5000") is
    // always an official image on Docker Hub, never a host name.
    return { domain: DEFAULT_DOMAIN, typedPrefix: '', libraryAdded: true };
  }
  const first = input.slice(0, slash);
  const rest = input.slice(slash + 1);
  const isDomain = first === LOCALHOST || first.includes('.') || first.includes(':') || first.toLowerCase() !== first;
  if (!isDomain) {
    return { domain: DEFAULT_DOMAIN, typedPrefix: '', libraryAdded: false };
  }
  const domain = first === LEGACY_DEFAULT_DOMAIN ? DEFAULT_DOMAIN : first;
  // "docker.io/ubuntu" is "docker.io/library/ubuntu"; other registries keep their path.
  const libraryAdded = domain === DEFAULT_DOMAIN && !rest.includes('/');
  return { domain, typedPrefix: input.slice(0, slash + 1), libraryAdded };
}

/**
 * Splits "name[:tag][@digest]". Tag and digest can contain no "/", so they can
 * only follow the last "/"; `undefined` means the separator was absent, '' that
 * it was present with nothing after it.
 */
function splitTagAndDigest(s: string): { name: string; tag: string | undefined; digest: string | undefined } {
  const lastSlash = s.lastIndexOf('/');
  let end = s.length;
  let tag: string | undefined;
  let digest: string | undefined;
  const at = s.indexOf('@', lastSlash + 1);
  if (at !== -1) {
    digest = s.slice(at + 1);
    end = at;
  }
  const colon = s.indexOf(':', lastSlash + 1);
  if (colon !== -1 && colon < end) {
    tag = s.slice(colon + 1, end);
    end = colon;
  }
  return { name: s.slice(0, end), tag, digest };
}

/** Explains why the name part did not match the grammar. */
function nameProblem(
  input: string,
  split: DomainSplit,
  typedName: string,
  remotePath: string,
  tag: string | undefined,
  digest: string | undefined,
): string {
  const shown = split.typedPrefix + typedName;
  const lower = remotePath.toLowerCase();
  if (lower !== remotePath && NAME_RE.test(`${split.domain}/${lower}`)) {
    const fixed =
      split.typedPrefix +
      typedName.toLowerCase() +
      (tag !== undefined ? `:${tag}` : '') +
      (digest !== undefined ? `@${digest}` : '');
    const advice = isParsable(fixed) ? `write ${quote(fixed)} instead` : 'use lowercase letters';
    return `repository name must be lowercase (got ${quote(shown)}); ${advice}`;
  }

  const hints: string[] = [];
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(input)) {
    hints.push('a reference is not a URL: drop the scheme (write "ghcr.io/org/app", not "https://ghcr.io/org/app")');
  } else if (/\s/.test(input)) {
    hints.push('it contains whitespace');
  } else if (typedName === '' || typedName.endsWith('/') || typedName.includes('//')) {
    hints.push('a name component is empty (check for a missing name before ":" or "@", or a doubled or trailing "/")');
  } else if (split.typedPrefix === '' && input.startsWith('[')) {
    hints.push('a registry address must be followed by "/" and a repository path, e.g. "[::1]:5000/app"');
  } else if (split.typedPrefix !== '' && !DOMAIN_RE.test(split.domain)) {
    hints.push(
      `${quote(split.domain)} is read as a registry host (it contains "." or ":", or uppercase) but is not a valid ` +
        'host[:port] (IPv6 addresses go in brackets, e.g. "[::1]:5000")',
    );
  }
  if (lower !== remotePath) hints.push('it must also be lowercase');
  return (
    `repository name ${quote(shown)} is invalid: path components may contain only lowercase letters and digits, ` +
    'separated by ".", "_", "__" or "-" (never at the start or end of a component), joined by "/", ' +
    'optionally after a registry host such as "ghcr.io" or "localhost:5000"' +
    (hints.length > 0 ? `; ${hints.join('; ')}` : '')
  );
}

function isParsable(s: string): boolean {
  try {
    parseReference(s);
    return true;
  } catch {
    return false;
  }
}

function tagProblem(tag: string): string | undefined {
  if (TAG_RE.test(tag)) return undefined;
  if (tag === '') return 'the tag after ":" is empty; give a tag (e.g. ":latest") or drop the ":"';
  if (tag.length > MAX_TAG_LENGTH && TAG_SHAPE_RE.test(tag)) {
    return `tag ${quote(abbreviate(tag))} has ${tag.length} characters; a tag may have at most ${MAX_TAG_LENGTH}`;
  }
  return (
    `invalid tag ${quote(abbreviate(tag))}: a tag must start with a letter, digit or "_", contain only letters, ` +
    `digits, "_", "." and "-", and have at most ${MAX_TAG_LENGTH} characters`
  );
}

function digestProblem(digest: string): string | undefined {
  const colon = digest.indexOf(':');
  if (colon <= 0 || colon === digest.length - 1) {
    return `invalid digest ${quote(abbreviate(digest))}: a digest has the form "<algorithm>:<hex>", e.g. "sha256:" followed by 64 hex digits`;
  }
  const algorithm = digest.slice(0, colon);
  const hex = digest.slice(colon + 1);
  const expected = DIGEST_HEX_LENGTHS.get(algorithm);
  if (expected === undefined) {
    return `unsupported digest algorithm ${quote(abbreviate(algorithm))}; use sha256 (or sha384, sha512)`;
  }
  if (LOWER_HEX_RE.test(hex) && hex.length === expected) return undefined;
  const detail = !HEX_RE.test(hex)
    ? 'it contains characters that are not hexadecimal digits'
    : !LOWER_HEX_RE.test(hex)
      ? 'it contains uppercase hex digits'
      : `it has ${hex.length}`;
  return `invalid ${algorithm} digest ${quote(abbreviate(digest))}: it needs exactly ${expected} lowercase hex digits, but ${detail}`;
}

function suffix(ref: ImageReference): string {
  return (ref.tag !== undefined ? `:${ref.tag}` : '') + (ref.digest !== undefined ? `@${ref.digest}` : '');
}

function quote(s: string): string {
  return JSON.stringify(s);
}

/** Keeps messages readable when a part is absurdly long. */
function abbreviate(s: string): string {
  return s.length > 80 ? `${s.slice(0, 40)}…${s.slice(-20)}` : s;
}
