// Exec form that is not JSON (`CMD ['echo','x']`, `ENTRYPOINT ["a", "b"`): BuildKit's parser
// quietly falls back to shell form (CMD, ENTRYPOINT, HEALTHCHECK CMD) or to whitespace-separated
// words (COPY, ADD, VOLUME), and docker build goes on. Kiln builds it the same way and explains
// what happened in a warning, with the exec form the author most likely meant.

/** How BuildKit reads the text instead of as exec form. */
export type Fallback = 'shell' | 'healthcheck-shell' | 'words';

/**
 * The warning for a text that looks like exec form but is not a JSON array of strings, or
 * undefined when it does not look like an attempt at exec form (`[ -f x ]`, `[ "$A" = b ]` are
 * shell tests, not exec form).
 */
export function brokenExecFormWarning(keyword: string, text: string, fallback: Fallback): string | undefined {
  const trimmed = text.trim();
  if (!/^\[\s*["']/.test(trimmed)) return undefined;
  const repaired = repairJsonArray(trimmed);
  // Without a repair, only a comma-separated list of quoted words is clearly meant as exec form.
  if (!repaired && !/["']\s*,\s*["']/.test(trimmed)) return undefined;
  const reason = repaired?.reason ?? 'it is not valid JSON';
  const how =
    fallback === 'words'
      ? `read as whitespace-separated words (${trimmed.split(/\s+/).map((w) => JSON.stringify(w)).join(' ')})`
      : fallback === 'healthcheck-shell'
        ? `shell form (CMD-SHELL): the shell runs ${trimmed} as a command`
        : `shell form: the shell runs ${trimmed} as a command`;
  const fix = repaired
    ? `${keyword} ${formatExecForm(repaired.words)}`
    : `${keyword} ["executable", "arg", ...] with double quotes`;
  return `${keyword} ${trimmed} is not a JSON array (${reason}), so it is ${how}, as in docker build; for exec form write ${fix}`;
}

/** `["a", "b"]`, as a user would write it. */
export function formatExecForm(words: readonly string[]): string {
  return `[${words.map((w) => JSON.stringify(w)).join(', ')}]`;
}

/** The array the author most likely meant, and what was wrong, when a small repair finds one. */
function repairJsonArray(text: string): { words: string[]; reason: string } | undefined {
  const requoted = text.replace(/'((?:[^'\\]|\\.)*)'/g, (_all, body: string) => JSON.stringify(body.replace(/\\'/g, "'")));
  const closed = (s: string) => (/\]\s*$/.test(s) ? s : `${s.replace(/,\s*$/, '')}]`);
  const noTrailingComma = (s: string) => s.replace(/,\s*\]\s*$/, ']');
  const attempts: [string, string][] = [
    [requoted, 'JSON strings need double quotes'],
    [closed(text), 'the closing ] is missing'],
    [closed(requoted), 'JSON strings need double quotes, and the closing ] is missing'],
    [noTrailingComma(text), 'JSON allows no comma before the closing ]'],
    [noTrailingComma(requoted), 'JSON strings need double quotes, and JSON allows no comma before the closing ]'],
  ];
  for (const [candidate, reason] of attempts) {
    if (candidate === text) continue;
    const words = stringArray(candidate);
    if (words) return { words, reason };
  }
  return undefined;
}

function stringArray(text: string): string[] | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value) && value.every((v) => typeof v === 'string') ? (value as string[]) : undefined;
  } catch {
    return undefined;
  }
}
