// `COPY --chmod` / `ADD --chmod` values as BuildKit's current dockerfile frontend takes them:
//
//  * octal: any run of octal digits up to 07777 (`7`, `644`, `00644`, `4755`); the mode replaces
//    each copied entry's mode, setuid/setgid/sticky included (BuildKit keeps them since 0.13);
//  * symbolic (dockerfile 1.14+): chmod(1)'s clauses, `[ugoa]*([-+=]([rwxXst]*|[ugo]))+`, separated
//    by commas (`u+x`, `go-w`, `a=r,u+w`, `u=rwX,go=rX`, `g=u`), applied to each entry's own mode,
//    with the umask taken as 0 (BuildKit parses them so); `X` adds execute to a directory or to a
//    file that already has an execute bit, and with `-` it removes execute like `x`.
//
// A value that starts with a digit but is no octal number up to 07777 gets BuildKit's message for
// a non-octal mode; other malformed values its "invalid syntax".

import { KilnError } from '../errors.js';

/** A parsed `--chmod`: the mode a copied entry gets from its own mode. */
export interface Chmod {
  /** The value as written (after variable expansion). */
  readonly text: string;
  /** The octal mode, when the value is one (the same for every entry). */
  readonly octal?: number;
  apply(mode: number, isDir: boolean): number;
}

const SETUID = 0o4000;
const SETGID = 0o2000;
const STICKY = 0o1000;
const USER = 0o4700;
const GROUP = 0o2070;
const OTHER = 0o0007;
/** `a`: every class, with setuid and setgid, but not sticky. */
const ALL = USER | GROUP | OTHER;
const READ = 0o444;
const WRITE = 0o222;
const EXEC = 0o111;

/**
 * One step of a symbolic mode, applied in order:
 *  clear/set: clear or set `bits`;
 *  execIfAny: set `bits` when the entry is a directory or its original mode has an execute bit;
 *  copy: copy the permission bits of class `from` (as they are at this step) into the classes of `to`.
 */
type Step =
  | { op: 'clear' | 'set' | 'execIfAny'; bits: number }
  | { op: 'copy'; from: 'u' | 'g' | 'o'; to: number; how: '+' | '-' | '=' };

export function parseChmod(value: string): Chmod {
  if (/^[0-7]+$/.test(value)) {
    const mode = parseInt(value, 8);
    if (mode > 0o7777) throw nonOctal(value);
    return { text: value, octal: mode, apply: () => mode };
  }
  if (/^[0-9]/.test(value)) throw nonOctal(value);
  const steps = parseSymbolic(value);
  if (!steps) {
    throw new KilnError(
      `invalid chmod parameter "${value}": invalid syntax (use octal such as 755 or 0644, or symbolic modes such as u+x, go-w or u=rwX,go=rX)`,
    );
  }
  return { text: value, apply: (mode, isDir) => applySteps(steps, mode, isDir) };
}

function nonOctal(value: string): KilnError {
  return new KilnError(`invalid chmod parameter "${value}": it should be an octal number between 0 and 07777 (e.g. 755, 0644), or a symbolic mode (e.g. u+x)`);
}

/** The clauses of a symbolic mode as steps, or undefined when the text is not one (BSD setmode's grammar). */
function parseSymbolic(text: string): Step[] | undefined {
  const steps: Step[] = [];
  let i = 0;
  for (;;) {
    // The classes of the clause: none means all of them.
    let who = 0;
    for (;;) {
      if (i >= text.length) return undefined;
      const c = text[i];
      if (c === 'a') who |= ALL;
      else if (c === 'u') who |= USER;
      else if (c === 'g') who |= GROUP;
      else if (c === 'o') who |= OTHER;
      else break;
      i++;
    }
    // One or more operator + permission runs share the classes: `u+x-w`.
    let equalDone = false;
    for (;;) {
      const op = text[i++];
      if (op !== '+' && op !== '-' && op !== '=') return undefined;
      if (op === '=') equalDone = false;
      who &= ~STICKY;
      let perm = 0;
      let execIfAny = 0;
      const add = (kind: '+' | '-' | '=', bits: number) => {
        const target = who !== 0 ? who : ~0;
        if (kind === '=') {
          steps.push({ op: 'clear', bits: who !== 0 ? who : ALL });
          kind = '+';
        }
        steps.push({ op: kind === '+' ? 'set' : 'clear', bits: target & bits });
      };
      for (;; i++) {
        const c = i < text.length ? text[i] : '';
        if (c === 'r') perm |= READ;
        else if (c === 'w') perm |= WRITE;
        else if (c === 'x') perm |= EXEC;
        else if (c === 'X') {
          if (op === '-') perm |= EXEC;
          else execIfAny = EXEC;
        } else if (c === 's') {
          // Only "other" named: setuid/setgid mean nothing there.
          if (who === 0 || (who & ~OTHER) !== 0) perm |= SETUID | SETGID;
        } else if (c === 't') {
          if (who === 0 || (who & ~OTHER) !== 0) {
            who |= STICKY;
            perm |= STICKY;
          }
        } else if (c === 'u' || c === 'g' || c === 'o') {
          if (perm !== 0) {
            add(op, perm);
            perm = 0;
          }
          if (op === '=') equalDone = true;
          if (execIfAny !== 0) {
            steps.push({ op: 'execIfAny', bits: (who !== 0 ? who : ~0) & execIfAny });
            execIfAny = 0;
          }
          steps.push({ op: 'copy', from: c, to: who, how: op });
        } else {
          if (perm !== 0 || (op === '=' && !equalDone)) {
            if (op === '=') equalDone = true;
            add(op, perm);
          }
          if (execIfAny !== 0) steps.push({ op: 'execIfAny', bits: (who !== 0 ? who : ~0) & execIfAny });
          break;
        }
      }
      if (i >= text.length) return steps;
      if (text[i] === ',') {
        i++;
        break;
      }
    }
  }
}

function applySteps(steps: Step[], original: number, isDir: boolean): number {
  let mode = original & 0o7777;
  const hadExec = (original & EXEC) !== 0;
  for (const step of steps) {
    switch (step.op) {
      case 'clear':
        mode &= ~step.bits;
        break;
      case 'set':
        mode |= step.bits;
        break;
      case 'execIfAny':
        if (hadExec || isDir) mode |= step.bits;
        break;
      case 'copy': {
        const shift = { u: 6, g: 3, o: 0 }[step.from];
        const value = (mode >> shift) & 0o7;
        // With no class named, every class; else the classes whose read bit the clause names.
        const classes = step.to === 0 ? [6, 3, 0] : [6, 3, 0].filter((s) => (step.to & (0o4 << s)) !== 0);
        for (const s of classes) {
          if (step.how === '=') mode &= ~(0o7 << s);
          else if (step.how === '-') mode &= ~(value << s);
        }
        if (step.how !== '-') for (const s of classes) mode |= value << s;
        break;
      }
    }
  }
  return mode & 0o7777;
}
