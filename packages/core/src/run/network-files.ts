// /etc/resolv.conf and /etc/hosts for a RUN, as BuildKit writes them. They are bind-mounted
// read-only over the rootfs and never reach a layer.

import { readFile } from 'node:fs/promises';

export const SANDBOX_HOSTNAME = 'buildkitsandbox';

/** Google's public resolvers: BuildKit's fallback when the host has only loopback nameservers. */
const FALLBACK_NAMESERVERS = ['8.8.8.8', '8.8.4.4', '2001:4860:4860::8888', '2001:4860:4860::8844'];
const SYSTEMD_RESOLVED_STUB = '127.0.0.53';
const SYSTEMD_RESOLVED_UPSTREAM = '/run/systemd/resolve/resolv.conf';

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

function nameservers(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((w) => w[0] === 'nameserver' && w[1])
    .map((w) => w[1]!);
}

const isLoopback = (ip: string) => ip.startsWith('127.') || ip === '::1';

/**
 * The resolv.conf a RUN sees. With the host's network the host's file is used as it is. Otherwise
 * (its own network namespace) loopback resolvers cannot answer: systemd-resolved's stub is
 * replaced by its upstream file, loopback nameservers are dropped, and with none left the
 * public fallback is used.
 */
export async function resolvConf(network: 'host' | 'none', hostFile = '/etc/resolv.conf'): Promise<string> {
  let text = (await readOptional(hostFile)) ?? '';
  if (network === 'host') return nameservers(text).length ? text : text + FALLBACK_NAMESERVERS.map((ip) => `nameserver ${ip}\n`).join('');
  const servers = nameservers(text);
  if (servers.length === 1 && servers[0] === SYSTEMD_RESOLVED_STUB) text = (await readOptional(SYSTEMD_RESOLVED_UPSTREAM)) ?? text;

  let search: string | undefined;
  const options: string[] = [];
  const other: string[] = [];
  const kept: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const [word, ...rest] = line.split(/\s+/);
    if (word === 'nameserver') {
      if (rest[0] && !isLoopback(rest[0])) kept.push(rest[0]);
    } else if (word === 'search' || word === 'domain') search = rest.join(' ');
    else if (word === 'options') options.push(...rest);
    else other.push(line);
  }
  const lines = (kept.length ? kept : FALLBACK_NAMESERVERS).map((ip) => `nameserver ${ip}`);
  if (search) lines.push(`search ${search}`);
  if (options.length) lines.push(`options ${options.join(' ')}`);
  return [...lines, ...other].join('\n') + '\n';
}

/** The sandbox's /etc/hosts: localhost under both names and the sandbox hostname. */
export function hostsFile(hostname = SANDBOX_HOSTNAME): string {
  return `127.0.0.1\tlocalhost ${hostname}\n::1\tlocalhost ip6-localhost ip6-loopback\n`;
}
