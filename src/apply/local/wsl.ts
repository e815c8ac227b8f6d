// Inside WSL: the user's browser runs on Windows. Tells the Windows-side URL, warns about
// listeners Windows cannot reach, and prints (never runs) the netsh commands for LAN access.
// The /proc root and the interface list are injectable so tests run against fixture files.
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { connectAddress } from './ports.js';

export interface WslInfo {
  version: 1 | 2;
  kernelRelease: string;
  /** The WSL VM's own IPv4 address (eth0), what Windows' portproxy connects to. */
  vmAddress?: string;
}

/** WSL when the kernel release or /proc/version says "microsoft" or "WSL"; else undefined. */
export function detectWsl(procRoot = '/proc', interfaces = networkInterfaces()): WslInfo | undefined {
  const read = (p: string) => {
    try {
      return readFileSync(join(procRoot, p), 'utf8').trim();
    } catch {
      return '';
    }
  };
  const release = read('sys/kernel/osrelease');
  const version = read('version');
  if (!/microsoft|wsl/i.test(release) && !/microsoft|wsl/i.test(version)) return undefined;
  // WSL2 kernels are "...-microsoft-standard-WSL2"; WSL1 reports e.g. "4.4.0-19041-Microsoft".
  const v: 1 | 2 = /WSL2|microsoft-standard/i.test(release + version) ? 2 : 1;
  const eth = (interfaces.eth0 ?? []).find((a) => a.family === 'IPv4' && !a.internal);
  return { version: v, kernelRelease: release, ...(eth ? { vmAddress: eth.address } : {}) };
}

export interface WslListener {
  name: string;
  address: string;
  port: number;
  protocol: string;
}

/** What to tell a WSL user about each listener: the Windows URL and what may not work. */
export function wslNotes(wsl: WslInfo, listeners: WslListener[]): string[] {
  const notes: string[] = [];
  for (const l of listeners) {
    const scheme = l.protocol === 'http' ? 'http' : 'tcp';
    if (l.address === '::' || l.address === '::1' || (l.address.includes(':') && l.address !== '::ffff:127.0.0.1')) {
      notes.push(`WSL: ${l.name} listens on IPv6 [${l.address}]:${l.port} only; Windows' localhost forwarding reaches IPv4 listeners: use --listen 127.0.0.1 (or listen_addr="127.0.0.1")`);
      continue;
    }
    if (wsl.version === 1) {
      notes.push(`WSL1 shares Windows' network: open ${scheme}://localhost:${l.port}/ in Windows`);
    } else if (l.address.startsWith('127.') || l.address === '0.0.0.0') {
      notes.push(`from Windows: ${scheme}://localhost:${l.port}/ (WSL2 forwards localhost; if it does not answer, check localhostForwarding in .wslconfig)`);
    } else {
      notes.push(`from Windows: ${scheme}://${l.address}:${l.port}/ (bound to ${l.address} only; Windows' localhost forwarding does not reach it)`);
    }
  }
  if (wsl.version === 2 && listeners.length) {
    notes.push('WSL2 mirrored networking (networkingMode=mirrored): 127.0.0.1 is shared with Windows, and LAN access needs a Hyper-V firewall rule instead of portproxy');
  }
  return notes;
}

/**
 * The Windows commands for LAN access (an elevated PowerShell; netsh). Printed, never run.
 * portproxy connects to the WSL VM's address, so the listener must accept connections there.
 */
export function lanCommands(wsl: WslInfo, listeners: WslListener[]): string[] {
  const out: string[] = [];
  const vm = wsl.vmAddress ?? '<WSL address: wsl hostname -I>';
  for (const l of listeners) {
    const connect = wsl.version === 1 ? connectAddress(l.address) : vm;
    if (wsl.version === 2 && (l.address.startsWith('127.') || l.address === '::1')) {
      out.push(`# ${l.name} listens on ${l.address} only: portproxy reaches the WSL VM at ${vm}, so restart with --listen 0.0.0.0 (or --listen ${vm}) first`);
    }
    out.push(
      `netsh interface portproxy add v4tov4 listenport=${l.port} listenaddress=0.0.0.0 connectport=${l.port} connectaddress=${connect}`,
      `netsh advfirewall firewall add rule name="envserve ${l.name} ${l.port}" dir=in action=allow protocol=TCP localport=${l.port}`,
    );
  }
  if (out.length) {
    out.unshift('# run in an elevated PowerShell on Windows (the WSL address changes when WSL restarts):');
    out.push('# to undo:');
    for (const l of listeners) {
      out.push(
        `netsh interface portproxy delete v4tov4 listenport=${l.port} listenaddress=0.0.0.0`,
        `netsh advfirewall firewall delete rule name="envserve ${l.name} ${l.port}"`,
      );
    }
  }
  return out;
}
