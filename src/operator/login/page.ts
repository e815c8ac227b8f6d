// What the gateway answers instead of the app: a small page that names the command to run. Host
// and path come from the request, so both are escaped; nothing of the app is ever shown.
import type { ServerResponse } from 'node:http';

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** Only the characters a URL path may hold; anything else is percent-encoded, so the command stays one word. */
export function safePath(path: string): string {
  return path.replace(/[^A-Za-z0-9\-._~!$&'()*+,;=:@/%?]/g, (c) => encodeURIComponent(c));
}

export const LOGIN_PATH = '/.envserve/login';

export function loginCommand(host: string, path: string, tls: boolean): string {
  return `envserve open ${tls ? 'https' : 'http'}://${host}${safePath(path)}`;
}

export function sendPage(res: ServerResponse, status: 401 | 403 | 404, o: { title: string; detail: string; command?: string }): void {
  const body = `<!doctype html><meta charset="utf-8"><title>${escapeHtml(o.title)}</title>
<h1>${escapeHtml(o.title)}</h1><p>${escapeHtml(o.detail)}</p>${o.command ? `<p>Run this with your kubeconfig:</p><pre>${escapeHtml(o.command)}</pre>` : ''}\n`;
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'referrer-policy': 'no-referrer',
    'x-content-type-options': 'nosniff',
    'content-security-policy': "default-src 'none'",
  });
  res.end(body);
}
