// Which image an environment runs in. `base(image=)` wins; `--image` overrides everything.
// Without either, `base(os=, language=)` maps to a public image that has the language (and
// Jupyter/RStudio when configured, since envserve does not build images):
//   language python* + config.jupyter  → quay.io/jupyter/base-notebook:latest
//   language python3.X                 → python:3.X-slim   (python → python:3.11-slim)
//   language r* + config.rstudio       → rocker/rstudio:latest   (r → rocker/r-ver:latest)
//   language julia*                    → julia:latest
//   os ubuntuYY.MM only                → ubuntu:YY.MM      (nothing → ubuntu:22.04)
// The python images are Debian-based, not Ubuntu: close enough for running services.
import type { EnvSpec } from '../../plan/types.js';

export function imageFor(env: EnvSpec, override?: string): string {
  if (override) return override;
  if (env.base.image) return env.base.image;
  const lang = (env.base.language ?? '').toLowerCase();
  if (lang.startsWith('python')) {
    if (env.jupyter) return 'quay.io/jupyter/base-notebook:latest';
    const v = /^python(3\.\d+)/.exec(lang)?.[1] ?? '3.11';
    return `python:${v}-slim`;
  }
  if (lang === 'r' || lang.startsWith('r4') || lang.startsWith('r-')) return env.rstudio ? 'rocker/rstudio:latest' : 'rocker/r-ver:latest';
  if (lang.startsWith('julia')) return 'julia:latest';
  const os = /^ubuntu(\d\d\.\d\d)$/.exec((env.base.os ?? '').toLowerCase());
  return os ? `ubuntu:${os[1]}` : 'ubuntu:22.04';
}
