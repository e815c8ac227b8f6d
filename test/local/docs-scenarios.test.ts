// The docs' local scenarios (```console scenario=local): the README's quickstart (`up` in the
// background, `status`, `curl`, `down`) and the dashboard's `up --ui`, run as written, on free ports.
import { scenarioTests } from '../../scripts/doc-tests/scenarios.js';
import { ensureBuilt } from '../helpers/cli.js';

scenarioTests('local', () => ({}), ensureBuilt);
