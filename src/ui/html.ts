// The page's HTML and CSS. The HTML is a shell: page/app.ts fills it from the event stream.
// No external fonts, scripts or images: everything comes from this server (see the CSP).

export function pageHtml(title: string): string {
  const t = title.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${t}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/app.css">
</head>
<body>
<header class="top">
  <h1>${t}</h1>
  <p id="conn" class="conn" role="status" aria-live="polite">connecting…</p>
</header>
<main id="envs"><p class="empty">Waiting for the first status…</p></main>
<script type="module" src="/app.js"></script>
</body>
</html>
`;
}

export const PAGE_CSS = `
:root { color-scheme: light dark; --fg: #1b1f24; --muted: #57606a; --bg: #ffffff; --panel: #f6f8fa; --line: #d0d7de;
  --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; --off: #6e7781; --link: #0a58ca; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --muted: #9da7b3; --bg: #0d1117; --panel: #161b22; --line: #30363d;
  --ok: #3fb950; --warn: #d29922; --bad: #f85149; --off: #8b949e; --link: #58a6ff; } }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
a { color: var(--link); }
.top { display: flex; flex-wrap: wrap; align-items: baseline; gap: .5rem 1.5rem; padding: .75rem 1rem; border-bottom: 1px solid var(--line); }
.top h1 { font-size: 1.15rem; margin: 0; }
.conn { margin: 0; color: var(--muted); }
.conn.live::before { content: "● "; color: var(--ok); }
.conn.down::before { content: "● "; color: var(--bad); }
main { padding: .5rem 1rem 2rem; }
section.env { margin: 1rem 0 2rem; }
section.env h2 { font-size: 1.05rem; margin: 0 0 .4rem; }
dl.facts { display: flex; flex-wrap: wrap; gap: .2rem 1.25rem; margin: 0 0 .75rem; color: var(--muted); }
dl.facts div { display: flex; gap: .35rem; }
dl.facts dt::after { content: ":"; }
dl.facts dd { margin: 0; color: var(--fg); overflow-wrap: anywhere; }
.procs { margin: 0 0 .75rem; padding: 0; list-style: none; }
.procs li { margin: .25rem 0; }
.procs pre { margin: .2rem 0 0; padding: .35rem .5rem; background: var(--panel); border: 1px solid var(--line); border-radius: 4px; font-size: 12px; white-space: pre-wrap; overflow-wrap: anywhere; max-height: 8em; overflow: auto; }
table { width: 100%; border-collapse: collapse; }
th, td { text-align: left; vertical-align: top; padding: .45rem .5rem; border-bottom: 1px solid var(--line); }
th { font-weight: 600; color: var(--muted); font-size: 12px; }
td { overflow-wrap: break-word; }
td[data-col=exposure] { min-width: 10rem; }
td[data-col=actions] { min-width: 13.5rem; }
.id { color: var(--muted); font-size: 12px; }
.urls { display: flex; flex-direction: column; gap: .1rem; }
.urls a { white-space: nowrap; }
.state { font-weight: 600; }
.state[data-state="ready"] { color: var(--ok); }
.state[data-state="waiting"], .state[data-state="starting"], .state[data-state="reconnecting"] { color: var(--warn); }
.state[data-state="failed"] { color: var(--bad); }
.state[data-state="stopped"] { color: var(--off); }
.reason { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; }
.msg { color: var(--muted); }
.actions { display: flex; flex-wrap: wrap; gap: .3rem; }
button { font: inherit; font-size: 13px; padding: .2rem .6rem; border: 1px solid var(--line); border-radius: 4px; background: var(--panel); color: var(--fg); cursor: pointer; }
button:hover { border-color: var(--muted); }
button:focus-visible, a:focus-visible { outline: 2px solid var(--link); outline-offset: 2px; }
button:disabled { opacity: .6; cursor: progress; }
output { display: block; margin-top: .3rem; font-size: 12px; white-space: pre-wrap; overflow-wrap: anywhere; }
output details { color: var(--fg); }
output ul { margin: .2rem 0 0; padding-left: 1rem; }
output.ok { color: var(--ok); }
output.bad { color: var(--bad); }
.notes { color: var(--muted); margin: .5rem 0 0; padding-left: 1.2rem; }
.empty { color: var(--muted); }
/* A narrow window: every exposure becomes a block with labelled fields. */
@media (max-width: 760px) {
  thead { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
  table, tbody, tr, td { display: block; width: 100%; }
  tr { border: 1px solid var(--line); border-radius: 6px; margin: .6rem 0; padding: .25rem 0; }
  td { border: 0; padding: .2rem .6rem; display: grid; grid-template-columns: 7.5rem 1fr; gap: .5rem; }
  td::before { content: attr(data-label); color: var(--muted); font-size: 12px; }
  .urls a { white-space: normal; overflow-wrap: anywhere; }
}
`;
