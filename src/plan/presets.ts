// Well-known services of data-science environments: `presets.<name>.port` in env files, and
// what the planner knows about a port (protocol, URL path).
import type { Protocol } from './types.js';

export interface Preset {
  name: string;
  port: number;
  protocol: Protocol;
  description: string;
  /** The path users open, when it is not "/". */
  urlPath?: string;
  /**
   * The app does not work without WebSocket upgrades (Jupyter's kernels): `check` warns when one is
   * refused, and only notes it for other apps. (Set where the port says which app it is: 8080 does not.)
   */
  websocket?: boolean;
}

export const PRESETS: readonly Preset[] = [
  { name: 'jupyter', port: 8888, protocol: 'http', description: 'Jupyter Notebook / JupyterLab', urlPath: '/lab', websocket: true },
  { name: 'rstudio', port: 8787, protocol: 'http', description: 'RStudio Server' },
  { name: 'tensorboard', port: 6006, protocol: 'http', description: 'TensorBoard' },
  { name: 'vscode', port: 8080, protocol: 'http', description: 'VS Code in the browser (code-server)' },
  { name: 'ssh', port: 2222, protocol: 'tcp', description: "SSH (envd's sshd)" },
  { name: 'mlflow', port: 5000, protocol: 'http', description: 'MLflow tracking server' },
  { name: 'streamlit', port: 8501, protocol: 'http', description: 'Streamlit app' },
  { name: 'gradio', port: 7860, protocol: 'http', description: 'Gradio app' },
  { name: 'ray', port: 8265, protocol: 'http', description: 'Ray dashboard' },
];

/** Misspellings users copy from documents, mapped to the right name (the proposal writes `presets.juypter`). */
export const PRESET_ALIASES: Readonly<Record<string, string>> = {
  juypter: 'jupyter',
  jupyterlab: 'jupyter',
  'code-server': 'vscode',
  codeserver: 'vscode',
};

export function presetByName(name: string): Preset | undefined {
  return PRESETS.find((p) => p.name === name);
}

export function presetByPort(port: number): Preset | undefined {
  return PRESETS.find((p) => p.port === port);
}
