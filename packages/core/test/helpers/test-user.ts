// A system user with a passwordless sudo rule, as GitHub's hosted runners run jobs (user `runner`,
// `sudo -n` allowed): made by a test running as root, removed after it (the rule first).
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';

export interface SudoUser {
  name: string;
  uid: number;
  gid: number;
  /** Take the sudo rule away (and give it back): for the "no sudo" case. */
  revokeSudo(): void;
  grantSudo(): void;
  remove(): void;
}

export function makeSudoUser(name: string): SudoUser {
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
  grantSudo();
  return {
    name,
    uid: id('-u'),
    gid: id('-g'),
    grantSudo,
    revokeSudo,
    remove() {
      revokeSudo();
      if (made) spawnSync('userdel', [name]);
    },
  };
}
