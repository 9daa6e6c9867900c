// The low-level syntax tree: what BuildKit's parser produces before instructions are typed.

export type EscapeChar = '\\' | '`';

export interface Heredoc {
  /** The delimiter word with quotes removed (`<<'EOF'` gives `EOF`). */
  name: string;
  /** The N in `N<<EOF`, 0 when absent. */
  fileDescriptor: number;
  /** False when any part of the delimiter was quoted: the body is then taken literally. */
  expand: boolean;
  /** `<<-`: leading tabs are stripped from the body when it is used (see chompHeredocContent). */
  chomp: boolean;
  /** The raw body, each line with its newline, tabs not yet stripped. */
  content: string;
}

export interface InstructionNode {
  /** The instruction word as written (`FROM`, `from`, `Copy`, or an unknown word). */
  keyword: string;
  /** Leading `--flag` words, quotes removed, `--` kept (`--from=build`). */
  flags: string[];
  /**
   * The argument list as BuildKit's line parsers shape it: whitespace-split words (FROM, EXPOSE),
   * JSON elements (exec form), one string (shell form), key/value/separator triples (ENV, LABEL)...
   */
  args: string[];
  /** ONBUILD's nested instruction. */
  sub?: InstructionNode;
  /** The arguments were a JSON array (exec form). */
  json: boolean;
  /** The instruction text after joining continuation lines. */
  original: string;
  heredocs: Heredoc[];
  /** 1-based first and last source line (the last includes heredoc bodies and continuations). */
  startLine: number;
  endLine: number;
}

export interface ParseWarning {
  message: string;
  line: number;
  /** The BuildKit lint rule, when the warning is one (`NoEmptyContinuation`). */
  rule?: string;
}

export interface Directives {
  escape?: string;
  syntax?: string;
  check?: string;
}

export interface DockerfileAst {
  /** The file name used in error messages. */
  file: string;
  instructions: InstructionNode[];
  escapeToken: EscapeChar;
  directives: Directives;
  warnings: ParseWarning[];
  startLine: number;
  endLine: number;
}
