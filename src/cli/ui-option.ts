// `--ui [--ui-port N] [--open]` for `up` and `serve`, and the URL line both print: the dashboard
// (src/ui/) on the engine running in this process.
import { spawn } from 'node:child_process';
import { Option, type Command } from 'commander';
import { UserError } from '../errors.js';
import { startUiServer, type UiServer } from '../ui/server.js';
import type { UiSource } from '../ui/types.js';

export interface UiFlags {
  ui?: boolean;
  uiPort?: string;
  open?: boolean;
}

export function uiOptions(cmd: Command): Command {
  return cmd
    .option('--ui', 'serve a live dashboard page on 127.0.0.1 (its URL, with a token, is printed)')
    .addOption(new Option('--ui-port <port>', 'the dashboard port (default: a free one)').implies({ ui: true }))
    .addOption(new Option('--open', 'open the dashboard in the browser').implies({ ui: true }));
}

export function parseUiPort(value: string | undefined): number {
  if (value === undefined) return 0;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) throw new UserError(`--ui-port ${value} is not a port number`, 'give 1-65535, or leave it out for a free port');
  return n;
}

/** Starts the dashboard and prints its URL; a taken --ui-port is a usage error (exit 2). */
export async function startDashboard(source: UiSource, flags: UiFlags, title: string, print: (line: string) => void): Promise<UiServer> {
  const port = parseUiPort(flags.uiPort);
  let ui: UiServer;
  try {
    ui = await startUiServer({ source, port, title });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new UserError(`--ui-port ${port}: 127.0.0.1:${port} is already in use`, 'leave --ui-port out for a free port');
    throw e;
  }
  print(`dashboard: ${ui.url}`);
  if (flags.open) openBrowser(ui.url);
  return ui;
}

/** Opens the URL with the desktop's opener; failures only warn (a server may have no desktop). */
export function openBrowser(url: string): void {
  const [cmd, args] = process.platform === 'darwin' ? ['open', [url]] : process.platform === 'win32' ? ['cmd', ['/c', 'start', '""', url]] : ['xdg-open', [url]];
  try {
    const child = spawn(cmd as string, args as string[], { stdio: 'ignore', detached: true });
    child.on('error', () => process.stderr.write(`could not open a browser (${cmd}); open the dashboard URL above\n`));
    child.unref();
  } catch {
    process.stderr.write(`could not open a browser; open the dashboard URL above\n`);
  }
}
