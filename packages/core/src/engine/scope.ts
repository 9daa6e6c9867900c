// ARG and ENV scoping with Docker's rules: meta ARGs (before the first FROM) are visible to FROM
// lines; inside a stage an ARG is visible after its declaration; ENV always wins over an ARG of
// the same name; --build-arg overrides ARG defaults.

import { ShellLex, type EscapeToken } from '../dockerfile/shell.js';

/** Build args every build defines, usable in FROM lines and redeclarable in stages. */
export function platformArgs(target: { os: string; architecture: string; variant?: string }, build = target) {
  const fmt = (p: typeof target) => [p.os, p.architecture, p.variant].filter(Boolean).join('/');
  return new Map<string, string>([
    ['TARGETPLATFORM', fmt(target)],
    ['TARGETOS', target.os],
    ['TARGETARCH', target.architecture],
    ['TARGETVARIANT', target.variant ?? ''],
    ['BUILDPLATFORM', fmt(build)],
    ['BUILDOS', build.os],
    ['BUILDARCH', build.architecture],
    ['BUILDVARIANT', build.variant ?? ''],
  ]);
}

/** Args Docker accepts without an ARG line (they reach RUN only; never stored in the image). */
export const PROXY_ARGS = new Set([
  'HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy',
  'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy',
]);

export class ArgScope {
  /** ARGs declared so far in this scope, with their values (undefined: declared, no value). */
  readonly values: Map<string, string | undefined>;

  constructor(
    private readonly buildArgs: ReadonlyMap<string, string>,
    private readonly used: Set<string>,
    /** Values an ARG without a default takes: the meta ARGs for a stage. */
    private readonly inherited: ReadonlyMap<string, string | undefined> = new Map(),
    /** ARGs already in scope: a stage built FROM another stage inherits that stage's ARGs. */
    initial: ReadonlyMap<string, string | undefined> = new Map(),
  ) {
    this.values = new Map(initial);
  }

  /** Declare `ARG key[=default]`; the default is already expanded by the caller. */
  declare(key: string, defaultValue: string | undefined): void {
    let value = defaultValue;
    if (this.buildArgs.has(key)) {
      value = this.buildArgs.get(key);
      this.used.add(key);
    } else if (value === undefined && this.inherited.has(key)) {
      value = this.inherited.get(key);
    }
    this.values.set(key, value);
  }

  get(name: string): string | undefined {
    return this.values.get(name);
  }
}

/**
 * The variables `$NAME` sees in a stage: the base image's ENV, then every ENV and valued ARG in
 * the order written; the last one wins. (BuildKit keeps ARGs and ENVs in one list, so an ARG
 * declared after an ENV of the same name shadows it in later expansions; the image keeps the ENV.)
 */
export function varsFromEnv(env: readonly string[]): Map<string, string> {
  const vars = new Map<string, string>();
  for (const entry of env) {
    const eq = entry.indexOf('=');
    if (eq > 0) vars.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  return vars;
}

/** Expands words against a variable map. */
export class Expander {
  private readonly lex: ShellLex;
  private readonly rawLex: ShellLex;

  constructor(escape: EscapeToken) {
    this.lex = new ShellLex(escape);
    this.rawLex = new ShellLex(escape, { skipProcessQuotes: true });
  }

  word(word: string, vars: ReadonlyMap<string, string>): string {
    return this.lex.processWord(word, vars);
  }

  /** Expanded and split into words where unquoted whitespace separates them (BuildKit's ProcessWords, as EXPOSE uses). */
  words(word: string, vars: ReadonlyMap<string, string>): string[] {
    return this.lex.processWords(word, vars);
  }

  /** Heredoc bodies: `$VAR` is expanded but quotes are the file's own, so they stay (BuildKit's ExpandRaw). */
  raw(text: string, vars: ReadonlyMap<string, string>): string {
    return this.rawLex.processWord(text, vars);
  }
}

/** The defined values of an ARG scope, as variables. */
export function argVars(scope: ArgScope): Map<string, string> {
  const vars = new Map<string, string>();
  for (const [k, v] of scope.values) if (v !== undefined) vars.set(k, v);
  return vars;
}

/** Set `KEY=value` in an env list, replacing an existing KEY in place (Docker keeps the order). */
export function setEnv(env: readonly string[], key: string, value: string): string[] {
  const entry = `${key}=${value}`;
  const index = env.findIndex((e) => e.startsWith(`${key}=`));
  return index < 0 ? [...env, entry] : env.map((e, i) => (i === index ? entry : e));
}
