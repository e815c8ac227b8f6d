// The API server's URL as kubectl reads a kubeconfig's `server`, and whether two recorded URLs
// name the same server.
import { UserError } from '../../../errors.js';

/**
 * The API server's base URL as kubectl reads `server`: "host", "host:port" or "[v6]:port" without
 * a scheme is plain http:// — clientcmd decides TLS before it has read the CA or the client
 * certificate (client-go's DefaultServerURL), so kubectl too speaks HTTP to it and sends no
 * credentials; such a server takes no path. The scheme is lower-cased, a default port and
 * trailing slashes dropped, a path prefix kept (a server behind a proxy path).
 */
export function serverUrl(server: string, where: string): string {
  const hasScheme = /^[a-z][a-z0-9+.-]*:\/\/[^/]/i.test(server);
  let u: URL;
  try {
    u = new URL(hasScheme ? server : `http://${server}`);
  } catch {
    throw new UserError(`the kubeconfig (${where}) has a server that is no URL or host:port: ${JSON.stringify(server)}`);
  }
  if (!hasScheme && u.pathname !== '/') throw new UserError(`the kubeconfig (${where}) has a server with a path but no scheme: ${JSON.stringify(server)}`, 'write it as https://HOST:PORT/PATH (kubectl refuses it too)');
  if (u.protocol !== 'https:' && u.protocol !== 'http:') {
    throw new UserError(`the kubeconfig (${where}) has a server with scheme ${u.protocol.slice(0, -1)}: only https:// and http:// reach an API server`);
  }
  return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`;
}

/** A URL from a state record against the one a client uses now (records may predate serverUrl). */
export function sameServer(recorded: string, now: string): boolean {
  try {
    return serverUrl(recorded, 'state record') === serverUrl(now, 'client');
  } catch {
    return recorded === now;
  }
}
