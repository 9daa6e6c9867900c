/** A command line Kiln cannot understand: printed with the usage text, exit code 2. */
export class UsageError extends Error {}

export const USAGE = `Usage: kiln <command> [options]

Commands:
  debug parse [-f] FILE   Parse a Dockerfile and print BuildKit's AST dump
                          (--no-check: skip instruction checks, like BuildKit's dumper)

Global options:
  -h, --help              Show this help
  --version               Print the version

Exit codes: 0 ok, 1 build or user error, 2 usage error.
`;
