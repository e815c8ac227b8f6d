// `envserve down`: stop and remove what `up`/`serve` started for the env file — by asking that
// envserve to stop, or, after a crash, from the state file (processes, the container).
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { down, removeLabelledContainers } from '../../apply/down.js';
import { StatusStore } from '../../status/store.js';

export function registerDown(program: Command): void {
  program
    .command('down')
    .description('stop everything envserve up/serve started for the env file (also after a crash)')
    .option('-f, --file <path>', 'the env file', 'build.envd')
    .action(async (opts: { file: string }) => {
      const store = new StatusStore(opts.file);
      const log = (l: string) => process.stdout.write(`${l}\n`);
      const had = await down(store, log);
      const leftovers = await removeLabelledContainers(resolve(opts.file), log);
      log(had || leftovers ? 'down: nothing left running' : `nothing was running for ${opts.file}`);
    });
}
