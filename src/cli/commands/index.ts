// Every subcommand registers itself on the program; add new ones here.
import type { Command } from 'commander';
import { registerPlan } from './plan.js';
import { registerPresets } from './presets.js';
import { registerRender } from './render.js';

export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [registerPlan, registerRender, registerPresets];
