// Every subcommand registers itself on the program; add new ones here.
import type { Command } from 'commander';
import { registerPlan } from './plan.js';
import { registerPresets } from './presets.js';
import { registerRender } from './render.js';
import { registerUp } from './up.js';
import { registerServe } from './serve.js';
import { registerStatus } from './status.js';
import { registerDown } from './down.js';
import { registerOperator } from './operator.js';
import { registerCheck } from './check.js';
import { registerProbe } from './probe.js';
import { registerDashboard } from './dashboard.js';
import { registerOpen } from './open.js';

export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [registerPlan, registerRender, registerPresets, registerUp, registerServe, registerStatus, registerDown, registerCheck, registerProbe, registerOperator, registerDashboard, registerOpen];
