// Package traefiklogin is envserve's login check inside Traefik (a local plugin, run by Traefik's Go
// interpreter). The operator's login gateway decides who may open a login-level exposure; on
// every request it lets through it hands out a short-lived pass (a cookie whose MAC binds the
// host, the ExposureSet's UID and access generation, and an expiry of at most the gateway's
// re-check interval). This middleware lets a request carrying a valid pass go straight to the app,
// without a second process in the path, and sends everything else to the gateway: no pass or an
// expired one, the login link, WebSocket upgrades (the gateway holds them and cuts them on
// revocation) and unsafe methods from another origin. envserve's cookies never reach the app.
//
// Keep it small: every statement here is interpreted per request.
package traefiklogin

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config is the Middleware's spec.plugin.<name>, written by the envserve operator.
type Config struct {
	Host       string `json:"host,omitempty"`
	SetUID     string `json:"setUid,omitempty"`
	Generation string `json:"generation,omitempty"`
	TLS        bool   `json:"tls,omitempty"`
	// Gateway is the login gateway's Service URL (http://ADDRESS:PORT).
	Gateway string `json:"gateway,omitempty"`
	// Key is the pass key, base64 (the operator points it at a Secret: urn:k8s:secret:NAME:KEY).
	Key string `json:"key,omitempty"`
}

// CreateConfig is Traefik's hook for a plugin's empty configuration.
func CreateConfig() *Config { return &Config{} }

// memoLimit bounds the memo of checked Cookie headers (one per browser, per pass).
const memoLimit = 10000

type check struct {
	next     http.Handler
	gateway  http.Handler
	key      []byte
	bound    string // host|setUid|generation|, the MAC's prefix
	pass     string // the pass cookie's name and "="
	session  string // the session cookie's name and "="
	origin   string // scheme "://"
	memo     sync.Map
	memoSize int64
}

type passed struct {
	expires int64  // Unix seconds
	rest    string // the Cookie header without envserve's cookies
}

// New builds the check for one login-level host.
func New(_ context.Context, next http.Handler, c *Config, _ string) (http.Handler, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(c.Key))
	if err != nil || len(key) < 32 {
		return nil, fmt.Errorf("envserve login: the pass key must be at least 32 bytes, base64")
	}
	if c.Host == "" || c.SetUID == "" || c.Generation == "" {
		return nil, fmt.Errorf("envserve login: host, setUid and generation are required")
	}
	gw, err := url.Parse(c.Gateway)
	if err != nil || gw.Host == "" {
		return nil, fmt.Errorf("envserve login: gateway must be http://ADDRESS:PORT, got %q", c.Gateway)
	}
	proxy := httputil.NewSingleHostReverseProxy(gw) // keeps the request's Host: the gateway routes by it
	proxy.FlushInterval = -1
	// Kept-alive connections to the gateway: the default transport keeps 2 idle, and a client
	// without a pass (every request to the gateway) would otherwise open a connection per request.
	proxy.Transport = &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second}
	pass, session, origin := "envserve-pass=", "envserve-session=", "http://"
	if c.TLS {
		pass, session, origin = "__Host-envserve-pass=", "__Host-envserve-session=", "https://"
	}
	return &check{
		next:    next,
		gateway: proxy,
		key:     key,
		bound:   strings.ToLower(c.Host) + "|" + c.SetUID + "|" + c.Generation + "|",
		pass:    pass,
		session: session,
		origin:  origin,
	}, nil
}

func (c *check) ServeHTTP(rw http.ResponseWriter, req *http.Request) {
	// The common case first, in as few interpreted steps as possible (each costs; measured: the
	// check went from +19 to +11 µs of Traefik's CPU per request): a Cookie header seen before with
	// a pass still valid, a GET, no upgrade, not the login link.
	h := req.Header
	if ck := h["Cookie"]; len(ck) == 1 {
		if v, ok := c.memo.Load(ck[0]); ok && req.Method == "GET" && len(h["Upgrade"]) == 0 {
			p := v.(passed)
			if time.Now().Unix() < p.expires && !strings.HasPrefix(req.URL.Path, "/.envserve/") {
				if p.rest == "" {
					delete(h, "Cookie")
				} else {
					ck[0] = p.rest
				}
				c.next.ServeHTTP(rw, req)
				return
			}
		}
	}
	if c.direct(req) {
		c.next.ServeHTTP(rw, req)
		return
	}
	c.gateway.ServeHTTP(rw, req)
}

// direct: a request the app may have now, its Cookie header stripped of envserve's cookies.
func (c *check) direct(req *http.Request) bool {
	if req.Header.Get("Upgrade") != "" || strings.HasPrefix(req.URL.Path, "/.envserve/") {
		return false
	}
	if m := req.Method; m != "GET" && m != "HEAD" && m != "OPTIONS" {
		if o := req.Header.Get("Origin"); o != "" && !strings.EqualFold(o, c.origin+req.Host) {
			return false
		}
	}
	raw := req.Header.Get("Cookie")
	now := time.Now().Unix()
	if v, ok := c.memo.Load(raw); ok {
		p := v.(passed)
		if now >= p.expires {
			return false
		}
		setCookies(req, p.rest)
		return true
	}
	expires, rest := c.checkPass(raw, now)
	if expires == 0 {
		return false
	}
	if atomic.AddInt64(&c.memoSize, 1) > memoLimit {
		c.memo.Range(func(k, _ any) bool { c.memo.Delete(k); return true })
		atomic.StoreInt64(&c.memoSize, 1)
	}
	c.memo.Store(raw, passed{expires: expires, rest: rest})
	setCookies(req, rest)
	return true
}

func setCookies(req *http.Request, rest string) {
	if rest == "" {
		req.Header.Del("Cookie")
	} else {
		req.Header.Set("Cookie", rest)
	}
}

// checkPass: the pass's expiry if the Cookie header holds a valid, unexpired one (else 0), and
// the header without envserve's cookies. Pass = EXPIRY "." base64url(HMAC-SHA256(key, bound EXPIRY)).
func (c *check) checkPass(raw string, now int64) (int64, string) {
	value := ""
	kept := make([]string, 0, 4)
	for _, part := range strings.Split(raw, ";") {
		part = strings.TrimSpace(part)
		if strings.HasPrefix(part, c.pass) {
			value = part[len(c.pass):]
		} else if part != "" && !strings.HasPrefix(part, c.session) {
			kept = append(kept, part)
		}
	}
	dot := strings.IndexByte(value, '.')
	if dot <= 0 {
		return 0, ""
	}
	expires, err := strconv.ParseInt(value[:dot], 10, 64)
	if err != nil || now >= expires {
		return 0, ""
	}
	got, err := base64.RawURLEncoding.DecodeString(value[dot+1:])
	if err != nil {
		return 0, ""
	}
	mac := hmac.New(sha256.New, c.key)
	mac.Write([]byte(c.bound + value[:dot]))
	if !hmac.Equal(mac.Sum(nil), got) {
		return 0, ""
	}
	return expires, strings.Join(kept, "; ")
}
