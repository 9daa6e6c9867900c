/** Examples for the verbs whose help is their part of USAGE. */
const EXAMPLES: Record<string, string> = {
  build: 'kiln build -t app:1 --build-arg NODE_ENV=production --secret id=npmrc,src=.npmrc .',
  pull: 'kiln pull registry.example.com/team/base:1',
  push: 'kiln push registry.example.com/team/app:1',
  login: 'echo "$TOKEN" | kiln login -u ci --password-stdin registry.example.com',
  logout: 'kiln logout registry.example.com',
  debug: 'kiln debug parse Dockerfile',
};

/** `kiln VERB --help` for the verbs documented in USAGE: their lines of it, and an example. */
export function verbHelp(verb: string): string | undefined {
  const example = EXAMPLES[verb];
  if (!example) return undefined;
  const lines = USAGE.split('\n');
  const start = lines.findIndex((l) => l.startsWith(`  ${verb} `) || l === `  ${verb}`);
  if (start < 0) return undefined;
  let end = start + 1;
  while (end < lines.length && /^ {6,}/.test(lines[end]!)) end++;
  return `Usage: kiln ${lines.slice(start, end).map((l) => l.slice(2)).join('\n')}\n\nExample:\n  ${example}\n`;
}

/** `-h` or `--help` among a verb's arguments: it prints its own help (with an example) instead. */
export function helpRequested(args: readonly string[]): boolean {
  return args.includes('--help') || args.includes('-h');
}

/** A command line Kiln cannot understand: printed with the usage text, exit code 2. */
export class UsageError extends Error {}

/** The user interrupted the command (Ctrl-C, SIGTERM): exit code 128 + the signal, as a shell reports it. */
export class InterruptedError extends Error {
  constructor(readonly signal: 'SIGINT' | 'SIGTERM' = 'SIGINT') {
    super('interrupted');
  }

  get exitCode(): number {
    return this.signal === 'SIGINT' ? 130 : 143;
  }
}

export const USAGE = `Usage: kiln <command> [options]

Commands:
  build [options] CONTEXT Build an image from a Dockerfile (no daemon)
      -f, --file FILE          Dockerfile (default CONTEXT/Dockerfile; - reads stdin)
      -t, --tag NAME:TAG       Tag the image in the store (repeatable)
      --build-arg K=V          Set a build-time variable (repeatable)
      --target STAGE           Build up to this stage
      --label K=V              Add a label to the image (repeatable)
      --annotation K=V         Add an annotation to the image manifest (repeatable; manifest: prefix optional)
      --no-cache               Do not use the build cache
      --platform OS/ARCH[,..]  Target platform (default: this machine); several make an image index
      -o, --output SPEC        type=oci,dest=DIR or type=docker,dest=FILE.tar
      --iidfile FILE           Write the image ID to FILE
      --metadata-file FILE     Write digests, tags and per-step cache hits as JSON
      --compression none|gzip[:LEVEL]  Layer compression in the store (default none: plain
                               tar); --push sends plain layers gzipped (level 1) unless none
      --progress auto|tty|plain|quiet
      --push                   Push the tagged image after the build
      --pull                   Re-resolve registry base images even when they are local
      --cache-from SPEC        Import build cache first: type=local,src=DIR or
                               type=registry,ref=REGISTRY/REPO:TAG (repeatable)
      --cache-to SPEC          Export the cache this build used: type=local,dest=DIR or
                               type=registry,ref=REGISTRY/REPO:TAG[,mode=min|max] (repeatable)
      --secret SPEC            A secret for RUN --mount=type=secret: id=ID,src=FILE or
                               id=ID,env=VAR (repeatable; never stored, logged or cached)
      --ssh ID[=SOCKET]        An SSH agent for RUN --mount=type=ssh: default uses
                               $SSH_AUTH_SOCK (repeatable)
      --allow ENTITLEMENT      security.insecure lets RUN --security=insecure run
                               privileged; network.host is accepted (repeatable)
      --insecure-registry HOST Allow plain http / unverified TLS for HOST (repeatable)
  images [REPO[:TAG]]     List images (image ls): -a, -q, --digests, --no-trunc, --filter, --format
  inspect IMAGE...        Show images as JSON, or --format TEMPLATE (image inspect)
  history IMAGE           Show an image's steps (image history): --no-trunc, -q, -H=false, --format
  tag SOURCE TARGET       Give an image another name (image tag)
  rmi [-f] IMAGE...       Untag and remove images (image rm)
  image prune [-a] [-f]   Remove dangling (with -a: all) images
  builder prune [-a] [-f] Remove build cache, RUN's unpacked layers (and with -a its cache mounts)
  system df [-v]          Show the store's disk usage
  system prune [-a] [-f]  Remove dangling images and build cache
  run [--rm] IMAGE [CMD]  Run a command in a container from an image, in the foreground
  ps -a                   List the containers kiln run kept
  rm CONTAINER...         Remove kept containers
  commit CONTAINER [REPO[:TAG]]  Make an image of a container's changes (-m, -a, -c)
  save [-o FILE] IMAGE... Write images to a docker save archive (--format oci: an OCI archive)
  load [-i FILE]          Import a docker or OCI archive (gzip or not; stdin without -i)
  pull NAME[:TAG|@DIGEST] Pull an image from a registry into the store
                          (--progress auto|tty|plain|quiet: each layer's bytes and speed)
  push NAME[:TAG]         Push an image from the store to its registry
                          (--progress auto|tty|plain|quiet: each layer's bytes and speed;
                          --compression gzip[:LEVEL]|none: plain layers are sent gzipped,
                          level 1 by default, each compressed once and remembered)
  login [-u USER] [--password-stdin] [SERVER]
                          Save registry credentials in Docker's config.json (or its helper)
  logout [SERVER]         Remove them
  debug parse [-f] FILE   Parse a Dockerfile and print BuildKit's AST dump
                          (--no-check: skip instruction checks, like BuildKit's dumper)

Global options:
  --store DIR             Kiln store (default: $KILN_STORE or ~/.cache/kiln/store)
  --offline               Contact no registry but those on this machine (also KILN_OFFLINE=1)
  -h, --help              Show this help
  --version               Print the version

Each command's --help shows its options and an example.
Exit codes: 0 ok, 1 build or user error, 2 usage error.
`;
