package traefiklogin

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

var key = []byte("0123456789abcdef0123456789abcdef")

func pass(host, uid, gen string, exp int64) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(host + "|" + uid + "|" + gen + "|" + strconv.FormatInt(exp, 10)))
	return strconv.FormatInt(exp, 10) + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// guarded builds the middleware in front of an "app" and a "gateway" that say who answered and what Cookie they got.
func guarded(t *testing.T) http.Handler {
	t.Helper()
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Who", "gateway "+r.Host)
		w.Header().Set("X-Cookie", r.Header.Get("Cookie"))
	}))
	t.Cleanup(gw.Close)
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Who", "app")
		w.Header().Set("X-Cookie", r.Header.Get("Cookie"))
	})
	h, err := New(context.Background(), app, &Config{Host: "App.example.test", SetUID: "u1", Generation: "3", TLS: true, Gateway: gw.URL, Key: base64.StdEncoding.EncodeToString(key)}, "t")
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func do(h http.Handler, method, path string, headers map[string]string) (string, string) {
	req := httptest.NewRequest(method, "https://app.example.test"+path, nil)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Header().Get("X-Who"), rec.Header().Get("X-Cookie")
}

func TestAValidPassGoesToTheAppWithoutEnvservesCookies(t *testing.T) {
	h := guarded(t)
	p := pass("app.example.test", "u1", "3", time.Now().Unix()+10)
	for i := 0; i < 2; i++ { // the second time from the memo
		who, cookie := do(h, "GET", "/x", map[string]string{"Cookie": "theme=dark; __Host-envserve-pass=" + p + "; __Host-envserve-session=v1.a.b.c; x=1"})
		if who != "app" || cookie != "theme=dark; x=1" {
			t.Fatalf("round %d: %s got Cookie %q", i, who, cookie)
		}
	}
	if who, cookie := do(h, "GET", "/", map[string]string{"Cookie": "__Host-envserve-pass=" + p}); who != "app" || cookie != "" {
		t.Fatalf("%s got Cookie %q", who, cookie)
	}
}

func TestEverythingElseGoesToTheGatewayAsItCame(t *testing.T) {
	h := guarded(t)
	now := time.Now().Unix()
	good := "__Host-envserve-pass=" + pass("app.example.test", "u1", "3", now+10)
	// remembered as valid first: the cases below that carry it must still go to the gateway
	if who, _ := do(h, "GET", "/", map[string]string{"Cookie": good}); who != "app" {
		t.Fatalf("a valid pass: answered by %q", who)
	}
	cases := map[string]struct {
		method, path string
		headers      map[string]string
	}{
		"no cookie":          {"GET", "/", nil},
		"expired":            {"GET", "/", map[string]string{"Cookie": "__Host-envserve-pass=" + pass("app.example.test", "u1", "3", now-1)}},
		"another generation": {"GET", "/", map[string]string{"Cookie": "__Host-envserve-pass=" + pass("app.example.test", "u1", "4", now+10)}},
		"another set":        {"GET", "/", map[string]string{"Cookie": "__Host-envserve-pass=" + pass("app.example.test", "u2", "3", now+10)}},
		"another host":       {"GET", "/", map[string]string{"Cookie": "__Host-envserve-pass=" + pass("other.example.test", "u1", "3", now+10)}},
		"longer expiry":      {"GET", "/", map[string]string{"Cookie": "__Host-envserve-pass=" + strconv.FormatInt(now+999, 10) + good[strings.IndexByte(good, '.'):]}},
		"plain-HTTP name":    {"GET", "/", map[string]string{"Cookie": "envserve-pass=" + pass("app.example.test", "u1", "3", now+10)}},
		"prefixed name":      {"GET", "/", map[string]string{"Cookie": "x" + good}},
		"WebSocket upgrade":  {"GET", "/ws", map[string]string{"Cookie": good, "Upgrade": "websocket", "Connection": "Upgrade"}},
		"the login link":     {"GET", "/.envserve/login?ticket=t", map[string]string{"Cookie": good}},
		"cross-site POST":    {"POST", "/api", map[string]string{"Cookie": good, "Origin": "https://evil.example.test"}},
		"plain-HTTP origin":  {"PUT", "/api", map[string]string{"Cookie": good, "Origin": "http://app.example.test"}},
	}
	for name, c := range cases {
		who, cookie := do(h, c.method, c.path, c.headers)
		if who != "gateway app.example.test" {
			t.Errorf("%s: answered by %q", name, who)
		}
		if cookie != c.headers["Cookie"] {
			t.Errorf("%s: the gateway got Cookie %q, want it as it came", name, cookie)
		}
	}
}

func TestWritesFromTheHostItselfOrWithoutOriginGoStraightThrough(t *testing.T) {
	h := guarded(t)
	good := "__Host-envserve-pass=" + pass("app.example.test", "u1", "3", time.Now().Unix()+10)
	for _, origin := range []string{"", "https://app.example.test"} {
		if who, _ := do(h, "POST", "/api", map[string]string{"Cookie": good, "Origin": origin}); who != "app" {
			t.Errorf("Origin %q: answered by %q", origin, who)
		}
	}
}

func TestARememberedPassStillExpires(t *testing.T) {
	h := guarded(t)
	c := map[string]string{"Cookie": "__Host-envserve-pass=" + pass("app.example.test", "u1", "3", time.Now().Unix()+1)}
	if who, _ := do(h, "GET", "/", c); who != "app" {
		t.Fatalf("answered by %q", who)
	}
	time.Sleep(time.Until(time.Unix(time.Now().Unix()+1, 0)) + 10*time.Millisecond)
	if who, _ := do(h, "GET", "/", c); who != "gateway app.example.test" {
		t.Fatalf("after its expiry: answered by %q", who)
	}
}

func TestBadConfigurationIsRefused(t *testing.T) {
	next := http.NotFoundHandler()
	k := base64.StdEncoding.EncodeToString(key)
	for name, c := range map[string]*Config{
		"short key":  {Host: "h", SetUID: "u", Generation: "1", Gateway: "http://10.0.0.1:80", Key: base64.StdEncoding.EncodeToString(key[:16])},
		"no key":     {Host: "h", SetUID: "u", Generation: "1", Gateway: "http://10.0.0.1:80"},
		"no host":    {SetUID: "u", Generation: "1", Gateway: "http://10.0.0.1:80", Key: k},
		"no gateway": {Host: "h", SetUID: "u", Generation: "1", Key: k},
		"no setUid":  {Host: "h", Generation: "1", Gateway: "http://10.0.0.1:80", Key: k},
	} {
		if _, err := New(context.Background(), next, c, "t"); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
