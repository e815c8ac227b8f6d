// `envserve open URL`: log in to an exposure whose access level needs a login, with this
// kubeconfig's identity (issue 22). The API server says who we are (SelfSubjectReview) and attests
// it on the Login object we create; the browser gets a one-time login URL on the exposure's own
// host, where the login gateway trades it for a session cookie. The login URL carries a ticket,
// so it is handed to the browser ($BROWSER, else the desktop's opener) and never printed.
// `envserve open EXPOSURE [-f build.envd]`: the same for an exposure of a running environment, by
// id or name; a URL that needs no login (public, or a port-forward on this machine) just opens.
import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import { RuntimeFailure, UserError } from '../../errors.js';
import { StateStore } from '../../engine/state.js';
import { openTarget } from '../open-target.js';
import { currentStatus, resolveEnv } from './status.js';

/** An exposure id or name of the env file's running environment → the URL to open, and whether it needs the login. */
async function exposureUrl(idOrName: string, file: string): Promise<{ url: string; login: boolean; id: string }> {
  const rec = new StateStore(file).read();
  if (!rec) throw new RuntimeFailure(`nothing is running for ${file}, so it has no exposure ${JSON.stringify(idOrName)}`, `start it with envserve up -f ${file}, or give the URL`, 'NotRunning');
  return openTarget(await currentStatus(rec), idOrName);
}

export function registerOpen(program: Command): void {
  program
    .command('open')
    .description('open an exposure in the browser, logging in with your kubeconfig where its access level ("namespace" or "authenticated") needs it')
    .argument('<url-or-exposure>', 'the exposure\'s URL (https://jupyter-lab-team-a.apps.example.com/lab), or its id or name in the running environment of -f')
    .option('-f, --file <path>', 'the env file whose running environment has the exposure', 'build.envd')
    .option('--env <id-or-name>', 'the environment by its env id or name (see status --all) instead of -f')
    .option('--kubeconfig <file>', 'kubeconfig (default: KUBECONFIG, ~/.kube/config)')
    .option('--context <name>', 'kubeconfig context')
    .action(async (raw: string, opts: { file: string; env?: string; kubeconfig?: string; context?: string }) => {
      let url: URL;
      if (/^[a-z][a-z0-9+.-]*:\/\//i.test(raw)) {
        try {
          url = new URL(raw);
        } catch {
          throw new UserError(`not a URL: ${JSON.stringify(raw)}`, 'give the exposure\'s URL, e.g. https://jupyter-lab-team-a.apps.example.com/lab');
        }
      } else {
        const t = await exposureUrl(raw, opts.env !== undefined ? resolveEnv(opts.env) : opts.file);
        if (!t.login) {
          // Public, or a port-forward on this machine: nothing to log in to.
          process.stderr.write(`opening ${t.url} (${t.id}; no login needed)\n`);
          return handToBrowser(t.url);
        }
        url = new URL(t.url);
      }
      if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new UserError(`open needs an http(s) URL, got ${url.protocol}`);
      if (url.protocol === 'http:') process.stderr.write('warning: plain HTTP: the login link and the session cookie cross the network readable (docs/sharing.md, threat model)\n');
      const { loadKubeClient, explainKubeError } = await import('../../apply/k8s/client.js');
      const { createLogin } = await import('../../operator/login/flow.js');
      const { LOGIN_PATH } = await import('../../operator/login/page.js');
      const client = loadKubeClient({ ...(opts.kubeconfig && { kubeconfig: opts.kubeconfig }), ...(opts.context && { context: opts.context }) });
      try {
        const { ticket, identity } = await createLogin(client, url.hostname);
        const login = new URL(LOGIN_PATH, url.origin);
        login.searchParams.set('ticket', ticket);
        login.searchParams.set('next', `${url.pathname}${url.search}`);
        process.stderr.write(`logging in to ${url.origin} as ${identity.username} (the link works once, for 60 s)\n`);
        await handToBrowser(login.toString());
      } catch (e) {
        if (e instanceof UserError) throw e;
        throw explainKubeError(e, `creating your login for ${url.hostname} (${client.server})`);
      } finally {
        client.close();
      }
    });
}

/** $BROWSER (a command that takes the URL as its argument), else the desktop's opener; the URL never goes to stdout. */
function handToBrowser(url: string): Promise<void> {
  const browser = process.env.BROWSER;
  const [cmd, args] = browser ? [browser, [url]] : process.platform === 'darwin' ? ['open', [url]] : process.platform === 'win32' ? ['cmd', ['/c', 'start', '""', url]] : ['xdg-open', [url]];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: 'ignore' });
    child.on('error', () => reject(new UserError(`could not start a browser (${cmd})`, 'set BROWSER to a command that opens a URL')));
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new UserError(`the browser command ${cmd} exited ${code}`))));
  });
}
