// A real browser for the dashboard tests: Debian's chromium (installed by
// scripts/testenv/chromium/up.sh) driven by playwright-core, headless, with a fresh profile. Every
// request the page makes is recorded, and anything not to 127.0.0.1/localhost is refused and
// reported: the dashboard must work with no network. Screenshots go to the artifacts folder.
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

function need(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the browser tests through \`node scripts/run-tests.mjs test/ui\` (it runs scripts/testenv/chromium/up.sh)`);
  return v;
}

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** Requests to anything but 127.0.0.1/localhost (refused). Must stay empty. */
  offHost: string[];
  /** Saves a screenshot of `page` as <prefix>-<nn>-<name>.png in the artifacts folder. */
  shot(name: string, page?: Page): Promise<string>;
  close(): Promise<void>;
}

export async function openBrowser(prefix: string, opts: { width?: number; height?: number } = {}): Promise<Browser> {
  const executablePath = need('ENVSERVE_TEST_CHROMIUM');
  const artifacts = need('ENVSERVE_TEST_ARTIFACTS');
  mkdirSync(artifacts, { recursive: true });
  for (const f of readdirSync(artifacts)) if (f.startsWith(`${prefix}-`)) rmSync(join(artifacts, f)); // the last run's only
  const profile = mkdtempSync(join(tmpdir(), 'envserve-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'],
    viewport: { width: opts.width ?? 1200, height: opts.height ?? 360 }, // screenshots are full-page: as tall as the content
  });
  const offHost: string[] = [];
  await context.route('**/*', (route) => {
    const u = new URL(route.request().url());
    if (u.protocol === 'data:' || u.hostname === '127.0.0.1' || u.hostname === 'localhost') return route.continue();
    offHost.push(route.request().url());
    return route.abort();
  });
  const page = context.pages()[0] ?? (await context.newPage());
  let n = 0;
  return {
    context,
    page,
    offHost,
    shot: async (name, p = page) => {
      const file = join(artifacts, `${prefix}-${String(++n).padStart(2, '0')}-${name}.png`);
      await p.screenshot({ path: file, fullPage: true });
      return file;
    },
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** The row of an exposure on the dashboard. */
export function row(page: Page, id: string) {
  return page.locator(`tr[data-exposure="${id}"]`);
}

/** Waits until the page shows `text` in the exposure's field; returns when it did (Date.now()). */
export async function waitField(page: Page, id: string, field: string, expected: string | RegExp, timeoutMs = 10_000): Promise<number> {
  const src = expected instanceof RegExp ? { re: expected.source, flags: expected.flags } : { re: `^${expected.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, flags: '' };
  await page.waitForFunction(
    ({ id, field, re, flags }) => {
      // runs in the page (no DOM types in the tests' tsconfig)
      const el = (globalThis as any).document.querySelector(`tr[data-exposure="${id}"] [data-field="${field}"]`);
      return !!el && new RegExp(re, flags).test(el.textContent ?? '');
    },
    { id, field, ...src },
    { timeout: timeoutMs, polling: 'raf' },
  );
  return Date.now();
}
