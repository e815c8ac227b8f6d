// HTTPS_PROXY / NO_PROXY as kubectl reads them (Go's httpproxy.FromEnvironment): each rule kind
// of NO_PROXY, the loopback exemption, the scheme default, and which variable applies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseProxyUrl, proxyFromEnv } from './proxy-env.js';

const P = 'http://proxy.corp:3128';
const via = (server: string, noProxy?: string, env: Record<string, string> = { HTTPS_PROXY: P }) =>
  proxyFromEnv(new URL(server), { ...env, ...(noProxy !== undefined && { NO_PROXY: noProxy }) })?.href;

test('HTTPS_PROXY applies to https servers, HTTP_PROXY to http ones; upper case first, lower case too', () => {
  assert.equal(via('https://kube.example.com:6443'), 'http://proxy.corp:3128/');
  assert.equal(via('http://kube.example.com:8080'), undefined, 'HTTPS_PROXY is not for http://');
  assert.equal(via('http://kube.example.com:8080', undefined, { HTTP_PROXY: 'http://h:1' }), 'http://h:1/');
  assert.equal(via('https://kube.example.com', undefined, { https_proxy: 'socks5://s:1080' }), 'socks5://s:1080');
  assert.equal(via('https://kube.example.com', undefined, { HTTPS_PROXY: 'http://upper:1', https_proxy: 'http://lower:1' }), 'http://upper:1/');
  assert.equal(via('https://kube.example.com', undefined, {}), undefined);
});

test('a proxy without a scheme is http://', () => {
  assert.equal(parseProxyUrl('proxy.corp:3128').href, 'http://proxy.corp:3128/');
  assert.equal(parseProxyUrl('https://p:8443').protocol, 'https:');
  assert.equal(parseProxyUrl('socks5://u:p@p:1080').username, 'u');
});

test('localhost and loopback addresses are never proxied', () => {
  assert.equal(via('https://localhost:6443'), undefined);
  assert.equal(via('https://127.0.0.1:6443'), undefined);
  assert.equal(via('https://127.9.9.9:6443'), undefined);
  assert.equal(via('https://[::1]:6443'), undefined);
  assert.equal(via('https://10.0.0.1:6443'), P + '/');
});

test('NO_PROXY domains: a name matches itself and its subdomains; a leading dot or *. only subdomains', () => {
  assert.equal(via('https://example.com', 'example.com'), undefined);
  assert.equal(via('https://api.example.com', 'example.com'), undefined);
  assert.equal(via('https://notexample.com', 'example.com'), P + '/', 'a suffix that is not a label boundary does not match');
  assert.equal(via('https://example.com', '.example.com'), P + '/', 'leading dot: subdomains only');
  assert.equal(via('https://a.example.com', '.example.com'), undefined);
  assert.equal(via('https://example.com', '*.example.com'), P + '/');
  assert.equal(via('https://a.b.example.com', '*.example.com'), undefined);
  assert.equal(via('https://API.Example.COM', ' Example.com , other'), undefined, 'case and spaces do not matter');
});

test('NO_PROXY ports: a rule with a port matches only that port (443 for https:// without one)', () => {
  assert.equal(via('https://kube.corp:6443', 'kube.corp:6443'), undefined);
  assert.equal(via('https://kube.corp:8443', 'kube.corp:6443'), P + '/');
  assert.equal(via('https://kube.corp', 'kube.corp:443'), undefined);
  assert.equal(via('https://10.1.2.3:6443', '10.1.2.3:6443'), undefined);
  assert.equal(via('https://10.1.2.3:6444', '10.1.2.3:6443'), P + '/');
  assert.equal(via('https://[fd00::1]:6443', '[fd00::1]:6443'), undefined);
});

test('NO_PROXY IPs and CIDRs match IP addresses only, never a name', () => {
  assert.equal(via('https://10.1.2.3:6443', '10.1.2.3'), undefined);
  assert.equal(via('https://10.1.2.4:6443', '10.1.2.3'), P + '/');
  assert.equal(via('https://10.1.2.3:6443', '10.0.0.0/8'), undefined);
  assert.equal(via('https://11.1.2.3:6443', '10.0.0.0/8'), P + '/');
  assert.equal(via('https://192.168.5.200', '192.168.5.128/25'), undefined);
  assert.equal(via('https://192.168.5.100', '192.168.5.128/25'), P + '/');
  assert.equal(via('https://[fd00::abcd]:6443', 'fd00::/16'), undefined);
  assert.equal(via('https://[fe80::1]:6443', 'fd00::/16'), P + '/');
  assert.equal(via('https://[fd00:0::1]', 'fd00::1'), undefined, 'IPv6 spellings compare as addresses');
  assert.equal(via('https://kube.corp', '10.0.0.0/8'), P + '/', 'a name is not resolved against CIDRs');
  assert.equal(via('https://10.1.2.3:6443', '2.3'), P + '/', 'a rule that is no IP is a domain, and a domain never matches an IP address');
  assert.equal(via('https://10.1.2.3:6443', '.1.2.3'), P + '/');
});

test('NO_PROXY "*" turns the proxy off; an empty entry is ignored', () => {
  assert.equal(via('https://anything.example', '*'), undefined);
  assert.equal(via('https://anything.example', ',,'), P + '/');
  assert.equal(via('https://anything.example', undefined, { HTTPS_PROXY: P, no_proxy: 'anything.example' }), undefined, 'no_proxy in lower case');
});
