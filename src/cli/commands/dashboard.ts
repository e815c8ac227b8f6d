// `envserve dashboard`: one page for every environment envserve runs on this machine, each reached
// through its control socket (found by the state records in the state folder). Stays in the
// foreground until Ctrl-C; environments that start or stop meanwhile appear and disappear.
import { Option, type Command } from 'commander';
import { ControlClient } from '../../engine/control.js';
import { stateDir } from '../../engine/state.js';
import { socketSource } from '../../ui/socket-env.js';
import { startDashboard, type UiFlags } from '../ui-option.js';

export function registerDashboard(program: Command): void {
  program
    .command('dashboard')
    .description('a live page (127.0.0.1, with a token) for every environment envserve runs on this machine')
    .option('--ui-port <port>', 'the dashboard port (default: a free one)')
    .addOption(new Option('--open', 'open the dashboard in the browser'))
    .action(async (opts: UiFlags) => {
      const dir = stateDir();
      const source = socketSource({ stateDir: dir, client: (path) => new ControlClient(path) });
      await source.rescan();
      const ui = await startDashboard(source, { ...opts, ui: true }, 'envserve', (l) => process.stdout.write(`${l}\n`));
      const n = source.environments().length;
      process.stdout.write(`${n} environment${n === 1 ? '' : 's'} running (state: ${dir}); more appear as they start. Press Ctrl-C to stop.\n`);
      const sig = await new Promise<string>((resolve) => {
        for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(s, () => resolve(s));
      });
      process.stderr.write(`${sig}: stopping the dashboard\n`);
      source.close();
      await ui.close();
    });
}
