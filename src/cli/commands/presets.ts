// `envserve presets`: the well-known services usable as `presets.<name>` in env files.
import type { Command } from 'commander';
import { PRESETS } from '../../plan/presets.js';
import { outputOption, printData, table, type OutputFormat } from '../output.js';

export function registerPresets(program: Command): void {
  program
    .command('presets')
    .description('list the presets (well-known services) usable as presets.<name> in env files')
    .addOption(outputOption())
    .action((opts: { output: OutputFormat }) => {
      if (opts.output !== 'table') return printData(opts.output, PRESETS);
      const rows = [['NAME', 'PORT', 'PROTOCOL', 'DESCRIPTION']];
      for (const p of PRESETS) rows.push([p.name, String(p.port), p.protocol, p.description]);
      process.stdout.write(table(rows));
    });
}
