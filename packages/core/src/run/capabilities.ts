// File capabilities a RUN step set (`setcap cap_net_raw+ep /usr/bin/ping`): the security.capability
// attribute of the files in the step's upper directory, with its exact bytes, for the layer.
// Node.js cannot read extended attributes, so two small host tools do: libcap's `getcap -r` finds
// the files that have capabilities (one fast walk in C), and GNU tar reads those few files' raw
// attribute into pax records (`--xattrs`), which archive/pax-xattrs.ts parses.

import { spawn } from 'node:child_process';
import { xattrInTar } from '../archive/pax-xattrs.js';
import { KilnError } from '../errors.js';

const ATTRIBUTE = 'security.capability';

/** Relative path -> raw security.capability value, for every file below `root` that has one; undefined when getcap is missing. */
export async function fileCapabilities(root: string): Promise<Map<string, Buffer> | undefined> {
  const listed = await runTool('getcap', ['-r', '.'], root);
  if (listed === undefined) return undefined;
  // Each line is "./PATH CAPS"; a path may hold spaces, so every prefix up to a space is a candidate
  // name, and tar (which skips the ones that do not exist) tells which is the file.
  const candidates = new Set<string>();
  for (const line of listed.toString('utf8').split('\n')) {
    if (!line.startsWith('./')) continue;
    for (let space = line.indexOf(' '); space > 2; space = line.indexOf(' ', space + 1)) candidates.add(line.slice(0, space));
  }
  if (candidates.size === 0) return new Map();
  const names = Buffer.from([...candidates].map((c) => `${c}\0`).join(''));
  const args = ['-c', '-f', '-', '--xattrs', `--xattrs-include=${ATTRIBUTE}`, '--no-recursion', '--ignore-failed-read', '--null', '--verbatim-files-from', '-T', '-'];
  const tar = spawn('tar', args, { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  tar.stderr.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-2048)));
  const exited = new Promise<number>((resolve, reject) => {
    tar.on('error', reject);
    tar.on('close', (code) => resolve(code ?? -1));
  });
  tar.stdin.end(names);
  const found = await xattrInTar(tar.stdout, ATTRIBUTE);
  const code = await exited;
  // --ignore-failed-read: the candidates that are not files make warnings, not a failure.
  if (code !== 0) throw new KilnError(`cannot read file capabilities of a RUN step: tar exited with ${code}: ${stderr.trim().split('\n').slice(-2).join('; ')}`);
  return found;
}

/** The tool's stdout, or undefined when it is not installed. */
function runTool(command: string, args: string[], cwd: string): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    // getcap lives in /usr/sbin, which a non-root PATH may lack.
    const env = { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin` };
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'ignore'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => chunks.push(b));
    child.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? resolve(undefined) : reject(err)));
    child.on('close', () => resolve(Buffer.concat(chunks)));
  });
}
