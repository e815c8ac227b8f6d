// The dashboard page: follows the server's event stream (Server-Sent Events, pushed on every status
// change — no polling) and renders one section per environment and one row per exposure. Rows are
// updated in place, so focus and inline results survive updates. All text goes in via textContent.
//
// The types below are what the page reads of EnvStatus (src/status/types.ts); fields the engine
// may not send are optional and shown only when present.
// `reason` is a code of src/reasons.ts (ReasonCode, or CheckReason for a check). The page only shows
// it and is compiled alone (a classic script under its own rootDir), so it cannot import the type:
// the server's side (ActionResult, ExposureStatus) is where the compiler holds it to the set.

interface Exposure {
  id: string;
  name?: string;
  kind: string;
  protocol: string;
  envPort: number;
  state: string;
  reason?: string;
  message?: string;
  urls: string[];
  /** Addresses that answer only inside the cluster, and how to reach them from here (issue 22). */
  inCluster?: string[];
  reach?: { id?: string; url?: string; command?: string };
  access?: string;
  target?: string;
  answering?: boolean;
  latencyMs?: number;
  since?: string;
  reconnects?: number;
  pod?: string;
  listen?: { address: string; port: number };
  restarts?: number;
  lastExit?: Exit;
}
interface Exit {
  code?: number;
  signal?: string;
  at: string;
}
interface Proc {
  name: string;
  state: string;
  pid?: number;
  exitCode?: number | null;
  message?: string;
  lastLines?: string[];
  restarts?: number;
}
interface Status {
  envName: string;
  envFile: string;
  runtime: string;
  mode: string;
  pid: number;
  startedAt: string;
  processes: Proc[];
  container?: { name: string; image: string; state?: string };
  cluster?: { server?: string; context?: string; namespace?: string };
  exposures: Exposure[];
  notes: string[];
}
interface EnvView {
  key: string;
  status?: Status;
  cluster?: { server?: string; context?: string; namespace?: string };
  sentAt?: number;
}
interface Result {
  ok: boolean;
  reason?: string;
  message?: string;
  details?: unknown;
}

const main = document.getElementById('envs')!;
const conn = document.getElementById('conn')!;
const sections = new Map<string, HTMLElement>();

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...children);
  return e;
}

function fact(name: string, value: string | undefined, field: string): HTMLElement | undefined {
  if (!value) return undefined;
  return el('div', {}, el('dt', {}, name), el('dd', { 'data-field': field }, value));
}

function clock(iso: string | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
}

/** The environment's header: name, runtime, cluster, processes with their last log lines, notes. */
function renderHeader(section: HTMLElement, s: Status, cluster: EnvView['cluster']): void {
  const head = section.querySelector<HTMLElement>('.env-head')!;
  const facts = el('dl', { class: 'facts' });
  for (const f of [
    fact('runtime', `${s.runtime} (${s.mode})`, 'runtime'),
    fact('cluster', cluster?.server, 'cluster'),
    fact('context', cluster?.context, 'context'),
    fact('namespace', cluster?.namespace, 'namespace'),
    fact('container', s.container ? `${s.container.name} ${s.container.image}${s.container.state ? ` (${s.container.state})` : ''}` : undefined, 'container'),
    fact('envserve pid', String(s.pid), 'pid'),
    fact('since', clock(s.startedAt), 'started'),
    fact('file', s.envFile, 'file'),
  ]) if (f) facts.append(f);
  const procs = el('ul', { class: 'procs', 'aria-label': 'processes' });
  for (const p of s.processes) {
    const line = `${p.name}: ${p.state}${p.pid ? ` (pid ${p.pid})` : ''}${p.exitCode != null ? `, exit ${p.exitCode}` : ''}${p.restarts ? `, restarts ${p.restarts}` : ''}${p.message ? ` — ${p.message}` : ''}`;
    const li = el('li', { 'data-process': p.name }, el('span', {}, line));
    if (p.lastLines?.length) li.append(el('pre', { 'aria-label': `last log lines of ${p.name}` }, p.lastLines.join('\n')));
    procs.append(li);
  }
  const children: Node[] = [el('h2', {}, s.envName), facts];
  if (s.processes.length) children.push(procs);
  if (s.notes.length) children.push(el('ul', { class: 'notes' }, ...s.notes.map((n) => el('li', {}, n))));
  head.replaceChildren(...children);
}

const COLUMNS = ['exposure', 'URL', 'access', 'target', 'state', 'answers', 'since', 'restarts', 'reconnects', 'pod', 'actions'];

function newSection(key: string): HTMLElement {
  const table = el('table', { 'aria-label': 'exposures' },
    el('thead', {}, el('tr', {}, ...COLUMNS.map((c) => el('th', { scope: 'col' }, c)))),
    el('tbody', {}));
  const section = el('section', { class: 'env', 'data-env': key }, el('div', { class: 'env-head' }), table);
  return section;
}

function labelOf(e: Exposure): string {
  return e.name ?? e.id;
}

/** Creates a row with its cells and action buttons; update() fills the data cells. */
function newRow(envKey: string, e: Exposure): HTMLTableRowElement {
  const row = el('tr', { 'data-exposure': e.id });
  for (const c of COLUMNS) row.append(el('td', { 'data-label': c, 'data-col': c }));
  const out = el('output', { 'aria-live': 'polite', 'data-field': 'result' });
  const name = `${labelOf(e)} (${e.kind})`; // two exposures may share a service's name
  const button = (text: string, act: string, label: string) => {
    const b = el('button', { type: 'button', 'data-action': act, 'aria-label': `${label} ${name}` }, text);
    b.addEventListener('click', () => void onAction(envKey, row, act, b, out));
    return b;
  };
  const actions = el('div', { class: 'actions' },
    button('Copy URL', 'copy', 'Copy the URL of'),
    button('Open', 'open', 'Open'),
    button('Restart', 'restart', 'Restart'),
    button('Stop', 'stop', 'Stop'),
    button('Check', 'check', 'Check'));
  row.querySelector('[data-col=actions]')!.append(el('div', { class: 'v' }, actions, out));
  return row;
}

function updateRow(row: HTMLTableRowElement, e: Exposure): void {
  row.dataset.state = e.state;
  // Copy and Open act on a URL this browser can open: a ClusterIP row's is the way that reaches it.
  row.dataset.url = e.urls[0] ?? e.reach?.url ?? '';
  // Each cell holds one wrapper: in a narrow window the cell is a grid of its label and that.
  const cell = (c: string) => row.querySelector<HTMLElement>(`[data-col="${c}"]`)!;
  const set = (c: string, ...nodes: (Node | string)[]) => cell(c).replaceChildren(el('div', { class: 'v' }, ...nodes));
  set('exposure',
    el('strong', { 'data-field': 'name' }, labelOf(e)),
    el('div', { class: 'id' }, `${e.kind} · ${e.protocol} · port ${e.envPort}`),
    ...(e.name ? [el('div', { class: 'id' }, e.id)] : []));
  cell('exposure').dataset.kind = e.kind;
  const urls = el('div', { class: 'urls' });
  for (const u of e.urls) urls.append(/^https?:/.test(u) ? el('a', { href: u, target: '_blank', rel: 'noopener noreferrer', 'data-field': 'url' }, u) : el('span', { 'data-field': 'url' }, u));
  // An in-cluster address is text, never a link: no browser outside the cluster opens it.
  if (!e.urls.length && e.inCluster?.length) urls.append(...inClusterNodes(e));
  else if (!e.urls.length) urls.append(e.listen ? `${e.listen.address}:${e.listen.port}` : '—');
  set('URL', urls);
  // Who may open the URL (issue 22): only an Ingress's or route's URL has a level.
  set('access', el('span', { 'data-field': 'access' }, e.access ?? '—'));
  set('target', e.target ?? '—');
  set('state',
    el('span', { class: 'state', 'data-state': e.state, 'data-field': 'state' }, e.state),
    ...(e.reason ? [' ', el('span', { class: 'reason', 'data-field': 'reason' }, e.reason)] : []),
    ...(e.message ? [el('div', { class: 'msg', 'data-field': 'message' }, e.message)] : []));
  set('answers', e.answering === undefined ? '—' : `${e.answering ? 'yes' : 'no'}${e.latencyMs !== undefined ? ` · ${Math.round(e.latencyMs * 10) / 10} ms` : ''}`);
  set('since', e.since ? el('time', { datetime: e.since, title: e.since }, clock(e.since)) : '—');
  // The process or container behind it (up): how often it was restarted and how it last ended.
  const exit = e.lastExit ? `${e.lastExit.signal ?? (e.lastExit.code !== undefined ? `exit ${e.lastExit.code}` : 'ended')} at ${clock(e.lastExit.at)}` : '';
  set('restarts', el('span', { 'data-field': 'restarts' }, e.restarts === undefined ? '—' : String(e.restarts)), ...(exit ? [el('div', { class: 'id', 'data-field': 'lastExit' }, exit)] : []));
  set('reconnects', el('span', { 'data-field': 'reconnects' }, String(e.reconnects ?? 0)));
  set('pod', el('span', { 'data-field': 'pod' }, e.pod ?? '—'));
  // One toggle: Stop while it runs, Start once stopped.
  const toggle = row.querySelector<HTMLButtonElement>('button[data-action=stop], button[data-action=start]')!;
  const next = e.state === 'stopped' ? 'start' : 'stop';
  if (toggle.dataset.action !== next) {
    toggle.dataset.action = next;
    toggle.textContent = next === 'start' ? 'Start' : 'Stop';
    toggle.setAttribute('aria-label', `${next === 'start' ? 'Start' : 'Stop'} ${labelOf(e)} (${e.kind})`);
  }
  const hasUrl = row.dataset.url !== '';
  for (const b of row.querySelectorAll<HTMLButtonElement>('button[data-action=copy], button[data-action=open]')) b.hidden = !hasUrl;
}

/** "10.96.0.7:8888 in-cluster only", then "from here:" and the link or command that reaches it. */
function inClusterNodes(e: Exposure): Node[] {
  const addr = (e.inCluster![0] ?? '').replace(/^[a-z]+:\/\//, '').replace(/\/$/, '');
  const out: Node[] = [el('span', { 'data-field': 'in-cluster', title: 'answers only inside the cluster' }, `${addr} (in-cluster only)`)];
  const r = e.reach;
  if (r?.url || r?.command) {
    const via = el('div', { class: 'id', 'data-field': 'reach' }, 'from here: ');
    if (r.command) via.append(el('code', {}, r.command));
    else if (r.url) via.append(el('a', { href: r.url, target: '_blank', rel: 'noopener noreferrer' }, r.url));
    out.push(via);
  }
  return out;
}

function renderEnv(v: EnvView): void {
  let section = sections.get(v.key);
  if (!section) {
    section = newSection(v.key);
    sections.set(v.key, section);
    main.querySelector('.empty')?.remove();
    main.append(section);
  }
  const s = v.status;
  if (!s) {
    section.querySelector('.env-head')!.replaceChildren(el('h2', {}, v.key), el('p', { class: 'empty' }, 'no status yet'));
    return;
  }
  renderHeader(section, s, v.cluster ?? s.cluster);
  const tbody = section.querySelector('tbody')!;
  const seen = new Set<string>();
  for (const e of s.exposures) {
    seen.add(e.id);
    let row = tbody.querySelector<HTMLTableRowElement>(`tr[data-exposure="${CSS.escape(e.id)}"]`);
    if (!row) row = newRow(v.key, e);
    tbody.append(row); // keeps the status order
    updateRow(row, e);
  }
  for (const row of tbody.querySelectorAll<HTMLTableRowElement>('tr[data-exposure]')) if (!seen.has(row.dataset.exposure!)) row.remove();
  section.dataset.updated = String(Date.now());
}

function renderAll(envs: EnvView[]): void {
  const keys = new Set(envs.map((e) => e.key));
  for (const [k, s] of sections) if (!keys.has(k)) (s.remove(), sections.delete(k));
  for (const v of envs) renderEnv(v);
  if (!envs.length) main.replaceChildren(el('p', { class: 'empty' }, 'No environment is running. Start one with envserve up --ui.'));
}

/** The first line of a result; the checks, one per line, when there are any. */
function describe(r: Result): { head: string; lines: string[] } {
  const head = `${r.ok ? 'ok' : 'failed'}${r.reason ? ` ${r.reason}` : ''}${r.message ? `: ${r.message}` : ''}`;
  const lines: string[] = [];
  if (Array.isArray(r.details)) {
    // status, title, where from, reason, latency, what it found
    for (const d of r.details as Record<string, unknown>[]) {
      lines.push(['status', 'title', 'vantage', 'reason', 'latencyMs', 'message'].filter((k) => d[k] !== undefined && d[k] !== '').map((k) => (k === 'latencyMs' ? `${d[k]} ms` : k === 'vantage' ? `(${d[k]})` : String(d[k]))).join(' '));
    }
  } else if (r.details !== undefined) lines.push(JSON.stringify(r.details));
  return { head, lines };
}

async function copy(text: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // Older browsers, or no clipboard permission: the selection way.
    const t = el('textarea', {}, text);
    document.body.append(t);
    t.select();
    document.execCommand('copy');
    t.remove();
  }
}

const PENDING: Record<string, string> = { restart: 'restarting…', stop: 'stopping…', start: 'starting…', check: 'checking…' };

async function onAction(envKey: string, row: HTMLTableRowElement, act: string, button: HTMLButtonElement, out: HTMLOutputElement): Promise<void> {
  const url = row.dataset.url ?? '';
  const action = button.dataset.action ?? act;
  if (action === 'copy') {
    await copy(url);
    return show(out, true, `copied ${url}`);
  }
  if (action === 'open') {
    window.open(url, '_blank', 'noopener,noreferrer');
    return;
  }
  button.disabled = true;
  show(out, true, PENDING[action] ?? '…');
  try {
    const res = await fetch(`/api/envs/${encodeURIComponent(envKey)}/exposures/${encodeURIComponent(row.dataset.exposure!)}/${action}`, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json' },
      body: '{}',
    });
    const r = (await res.json()) as Result;
    const { head, lines } = describe(r);
    show(out, r.ok, `${action}: ${head}`, lines);
  } catch (e) {
    show(out, false, `${action}: ${(e as Error).message}`);
  } finally {
    button.disabled = false;
  }
}

function show(out: HTMLOutputElement, ok: boolean, text: string, lines: string[] = []): void {
  out.className = ok ? 'ok' : 'bad';
  out.replaceChildren(text);
  if (lines.length) {
    out.append(el('details', {}, el('summary', {}, `${lines.length} check${lines.length === 1 ? '' : 's'}`), el('ul', {}, ...lines.map((l) => el('li', {}, l)))));
  }
}

function connect(): void {
  const events = new EventSource('/api/events');
  events.addEventListener('open', () => {
    conn.textContent = 'live';
    conn.className = 'conn live';
  });
  events.addEventListener('snapshot', (m) => renderAll((JSON.parse((m as MessageEvent<string>).data) as { envs: EnvView[] }).envs));
  events.addEventListener('env', (m) => renderEnv(JSON.parse((m as MessageEvent<string>).data) as EnvView));
  events.addEventListener('error', () => {
    // EventSource reconnects by itself; once CLOSED (the server refused us) it will not.
    conn.className = 'conn down';
    conn.textContent = events.readyState === EventSource.CLOSED ? 'disconnected: open the dashboard URL envserve printed again' : 'reconnecting…';
  });
}

connect();
