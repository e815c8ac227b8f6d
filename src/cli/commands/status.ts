// `envserve status`: what `up`/`serve` (in another terminal) runs, from the state file.
import type { Command } from 'commander';
import { RuntimeFailure } from '../../errors.js';
import { staleReason } from '../../apply/down.js';
import { formatStatus } from '../../status/format.js';
import { StatusStore } from '../../status/store.js';
import { outputOption, printData, type OutputFormat } from '../output.js';

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('show what envserve up/serve runs for the env file: each exposure, its URL, whether it answers')
    .option('-f, --file <path>', 'the env file', 'build.envd')
    .addOption(outputOption())
    .action((opts: { file: string; output: OutputFormat }) => {
      const store = new StatusStore(opts.file);
      const s = store.read();
      if (!s) throw new RuntimeFailure(`nothing is running for ${opts.file}`, `start it with envserve up -f ${opts.file}`);
      const stale = staleReason(s);
      if (opts.output === 'table') process.stdout.write(formatStatus(s, stale ? { stale } : {}));
      else printData(opts.output, { ...s, ...(stale ? { stale } : {}) });
      if (stale) process.exitCode = 1;
    });
}
