// The builtins of build(): both vocabularies users have, the proposal's (`base(os=, language=)`,
// `config.jupyter(password=)`) and envd's (`base(image=, dev=)`, `config.jupyter(token=, port=)`,
// `install.*`, `runtime.*`, `io.*`). They record an environment spec; nothing runs.
import { describeValue, EvalError, StarList, Struct, Tuple, toBool, toInt, toStr, toStrDict, toStrList, type Value } from '../lang/index.js';
import { safeText } from '../errors.js';
import { define, given, optSecret, optStr, type Args } from './define.js';
import { recordHostBinding } from './builtins-serve.js';
import { hashJupyterPassword } from './jupyter-password.js';
import { presetByName } from '../plan/presets.js';
import { isEnvVarName, NAME_RULES } from '../plan/k8s-names.js';
import type { Recorder } from './recorder.js';

export function buildBuiltins(rec: Recorder, saltSeed: string): Record<string, Value> {
  const env = rec.env;
  const strs = (fn: string, a: Args, name: string): string[] => (given(a[name]) ? toStrList(fn, name, a[name]!, { allowSingle: true }) : []);
  // Accepted and recorded nowhere: they shape an image build, which envserve leaves to envd.
  const ignore = (fn: string, params: string[]) => define(fn, params, () => undefined);

  const base = define('base', ['os?', 'language?', 'image?', 'dev?'], (a) => {
    const os = optStr('base', a, 'os');
    const language = optStr('base', a, 'language');
    const image = optStr('base', a, 'image');
    if (image !== undefined && (image === '' || /\s/.test(image))) {
      throw new EvalError(`base: image must be an image reference such as "python:3.11-slim", got ${safeText(JSON.stringify(image))}`, 'an image reference has no spaces');
    }
    env.base = {
      ...(os !== undefined && { os }),
      ...(language !== undefined && { language }),
      ...(image !== undefined && { image }),
      ...(given(a.dev) && { dev: toBool('base', 'dev', a.dev!) }),
    };
  });

  const config = new Struct('config', {
    jupyter: define('config.jupyter', ['password?', 'token?', 'port?'], (a, position) => {
      const port = given(a.port) ? toInt('config.jupyter', 'port', a.port!, { min: 1, max: 65535 }) : presetByName('jupyter')!.port;
      const password = optSecret('config.jupyter', a, 'password');
      const token = optSecret('config.jupyter', a, 'token');
      env.jupyter = {
        port,
        position,
        // An empty password means "no password" (the proposal's own comment says so).
        ...(password ? { passwordHash: hashJupyterPassword(password, saltSeed) } : {}),
        ...(token ? { tokenSet: true } : {}),
      };
    }),
    rstudio_server: define('config.rstudio_server', [], (_a, position) => {
      env.rstudio = { port: presetByName('rstudio')!.port, position };
    }),
    pip_index: define('config.pip_index', ['url', 'extra_url?', 'trust?'], (a) => {
      const extraUrl = optStr('config.pip_index', a, 'extra_url');
      env.pipIndex = { url: toStr('config.pip_index', 'url', a.url!), ...(extraUrl ? { extraUrl } : {}) };
    }),
    entrypoint: define('config.entrypoint', ['args'], (a) => {
      env.entrypoint = toStrList('config.entrypoint', 'args', a.args!);
    }),
    conda_channel: ignore('config.conda_channel', ['channel']),
    cran_mirror: ignore('config.cran_mirror', ['url']),
    julia_pkg_server: ignore('config.julia_pkg_server', ['url']),
    apt_source: ignore('config.apt_source', ['source?', 'mode?']),
    gpu: ignore('config.gpu', ['count']),
    shm_size: ignore('config.shm_size', ['size']),
    repo: ignore('config.repo', ['url', 'description?']),
    owner: ignore('config.owner', ['uid', 'gid']),
  });

  const pkgs = (fn: string, list: string[]) =>
    define(fn, ['name?', 'requirements?', 'local_wheels?', 'channel?', 'env_file?'], (a) => {
      list.push(...strs(fn, a, 'name'));
    });
  const install = new Struct('install', {
    python_packages: pkgs('install.python_packages', env.packages.python),
    pip_packages: pkgs('install.pip_packages', env.packages.python),
    apt_packages: pkgs('install.apt_packages', env.packages.apt),
    system_packages: pkgs('install.system_packages', env.packages.apt),
    r_packages: pkgs('install.r_packages', env.packages.r),
    conda_packages: pkgs('install.conda_packages', env.packages.conda),
    julia_packages: ignore('install.julia_packages', ['name']),
    vscode_extensions: ignore('install.vscode_extensions', ['name']),
    python: define('install.python', ['version?'], (a) => {
      const version = optStr('install.python', a, 'version');
      env.base = { ...env.base, language: version ? `python${version}` : (env.base.language ?? 'python') };
    }),
    conda: ignore('install.conda', ['use_mamba?']),
    r_lang: define('install.r_lang', [], () => {
      env.base = { ...env.base, language: env.base.language ?? 'r' };
    }),
    julia: ignore('install.julia', []),
    cuda: ignore('install.cuda', ['version', 'cudnn?']),
  });

  const runtime = new Struct('runtime', {
    daemon: define('runtime.daemon', ['commands', 'restart?'], (a) => {
      // restart=False: `up` leaves these down when they exit (the default restarts them with backoff).
      const restart = given(a.restart) ? toBool('runtime.daemon', 'restart', a.restart!) : true;
      for (const cmd of listOf('runtime.daemon', 'commands', a.commands!)) {
        const argv = toStrList('runtime.daemon', 'commands', cmd);
        if (argv.length === 0) throw new EvalError('runtime.daemon: commands must not contain an empty command');
        if (!restart) (env.noRestart ??= []).push(env.daemons.length);
        env.daemons.push(argv);
      }
    }),
    command: define('runtime.command', ['commands'], (a) => {
      Object.assign(env.commands, toStrDict('runtime.command', 'commands', a.commands!));
    }),
    environ: define('runtime.environ', ['env?', 'extra_path?'], (a) => {
      if (given(a.env)) {
        const vars = toStrDict('runtime.environ', 'env', a.env!);
        for (const name of Object.keys(vars)) {
          if (!isEnvVarName(name)) throw new EvalError(`runtime.environ: ${safeText(JSON.stringify(name))} is not a valid environment variable name`, `names are ${NAME_RULES.envVar}`);
        }
        Object.assign(env.environment, vars);
      }
      env.extraPath.push(...strs('runtime.environ', a, 'extra_path'));
    }),
    expose: define('runtime.expose', ['envd_port', 'host_port?', 'service?', 'listen_addr?'], (a, position) =>
      recordHostBinding(rec, 'runtime.expose', a, position, { envPort: 'envd_port', name: 'service' }),
    ),
    mount: ignore('runtime.mount', ['host_path', 'envd_path']),
    init: ignore('runtime.init', ['commands']),
  });

  const io = new Struct('io', {
    copy: define('io.copy', ['source?', 'target?', 'host_path?', 'envd_path?'], (a) => {
      const source = optStr('io.copy', a, 'source') ?? optStr('io.copy', a, 'host_path');
      const target = optStr('io.copy', a, 'target') ?? optStr('io.copy', a, 'envd_path');
      if (source === undefined || target === undefined) {
        throw new EvalError('io.copy: needs a source and a target (source=, target= or host_path=, envd_path=)');
      }
      env.copies.push({ source, target });
    }),
    mount: ignore('io.mount', ['src?', 'dest?', 'host_path?', 'envd_path?']),
    http: ignore('io.http', ['url', 'checksum?', 'filename?']),
  });

  return {
    base,
    config,
    install,
    runtime,
    io,
    shell: define('shell', ['name?'], (a) => {
      env.shell = optStr('shell', a, 'name') ?? 'bash';
    }),
    run: ignore('run', ['commands', 'mount_host?']),
    git_config: ignore('git_config', ['name?', 'email?', 'editor?']),
    include: define('include', ['git'], () => {
      throw new EvalError(
        'include: loading an env file from a git repository needs the network, and envserve reads only local files',
        'copy the file next to this one and use load("file.envd", "name") instead',
      );
    }),
  };
}

/** The elements of a list or tuple argument. */
export function listOf(fn: string, arg: string, v: Value): readonly Value[] {
  if (v instanceof StarList || v instanceof Tuple) return v.elems;
  throw new EvalError(`${fn}: ${arg} must be a list, got ${describeValue(v)}`);
}
