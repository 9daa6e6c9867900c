// System users for tests that run Kiln as a non-root user: with a passwordless sudo rule, as
// GitHub's hosted runners run jobs (user `runner`, `sudo -n` allowed), or without sudo and with
// subordinate ids in /etc/subuid and /etc/subgid, as a workstation user is set up for rootless
// containers. Made by a test running as root, removed after it (the rule and the ids first).
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';

export interface TestUser {
  name: string;
  uid: number;
  gid: number;
  /** Take the sudo rule away (and give it back). */
  revokeSudo(): void;
  grantSudo(): void;
  remove(): void;
}

export interface TestUserOptions {
  /** A passwordless sudo rule (the default). */
  sudo?: boolean;
  /** The first of 65,536 subordinate uids and gids to give the user. */
  subordinateIds?: number;
}

const SUBORDINATE_FILES = ['/etc/subuid', '/etc/subgid'];

function withoutLinesOf(file: string, name: string): string {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    // none yet
  }
  return text.split('\n').filter((l) => l !== '' && !l.startsWith(`${name}:`)).map((l) => `${l}\n`).join('');
}

export function makeTestUser(name: string, options: TestUserOptions = {}): TestUser {
  const sudoers = `/etc/sudoers.d/${name}`;
  let made = false;
  if (spawnSync('id', ['-u', name]).status !== 0) {
    const r = spawnSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', name], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`useradd ${name}: ${r.stderr}`);
    made = true;
  }
  const id = (flag: string) => Number(spawnSync('id', [flag, name], { encoding: 'utf8' }).stdout.trim());
  const grantSudo = () => writeFileSync(sudoers, `${name} ALL=(root) NOPASSWD: ALL\n`, { mode: 0o440 });
  const revokeSudo = () => rmSync(sudoers, { force: true });
  const removeIds = () => SUBORDINATE_FILES.forEach((f) => writeFileSync(f, withoutLinesOf(f, name)));
  if (options.sudo ?? true) grantSudo();
  else revokeSudo();
  removeIds();
  if (options.subordinateIds !== undefined) {
    for (const f of SUBORDINATE_FILES) writeFileSync(f, `${withoutLinesOf(f, name)}${name}:${options.subordinateIds}:65536\n`);
  }
  return {
    name,
    uid: id('-u'),
    gid: id('-g'),
    grantSudo,
    revokeSudo,
    remove() {
      revokeSudo();
      removeIds();
      if (made) spawnSync('userdel', [name]);
    },
  };
}
