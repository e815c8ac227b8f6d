// testsrv pod --mode MODE (or $TESTSRV_MODE): how the pod's HTTP ports behave, so tests meet
// backends like real apps and not only the friendly JSON answer. Echo ports are not affected.
//
//	json       (default) 200 JSON naming the pod, on every path (pod.go)
//	text       200 text/plain: "<pod> <port> <path>"
//	html       200 text/html: a small page naming the pod
//	login      like Jupyter with a password: /api/... -> 403 JSON, /login -> 200 HTML form,
//	           anything else -> 302 to /login?next=<path>
//	5xx        503 text/html on every path (the app's own error page)
//	hang       accepts, reads the request, never answers (holds the connection)
//	reset      accepts, reads the first bytes, resets the connection (RST: SO_LINGER 0)
//	close      accepts, reads the first bytes, closes without a word (FIN): a TLS-only server
//	           (Node's, Python's, Tornado's) meeting a plain HTTP request, an app that dies on it
//	banner     speaks first and not HTTP ("SSH-2.0-testsrv"), then reads until the peer closes: sshd
//	tls        HTTPS only (a self-signed certificate made at start), a 200 HTML page; a plain HTTP
//	           request gets Go's 400 "Client sent an HTTP request to an HTTPS server."
//	sse        200 text/event-stream with no end (an event stream at /, as /api/events): one event, then silence until the peer closes
//	api        like FastAPI with no root page: /docs -> 200 HTML, anything else -> 404 JSON {"detail":"Not Found"}
//	websocket  / -> 200 HTML; /ws -> WebSocket echo (426 without the upgrade); /cookies -> the Cookie header as the app got it; else 404
//
// Every mode but hang and reset still echoes a WebSocket upgrade on any path (as json does), and
// sets x-envserve-pod, so a test can tell which pod answered.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"html"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

var modes = map[string]bool{"json": true, "text": true, "html": true, "login": true, "5xx": true, "hang": true, "reset": true, "close": true, "banner": true, "api": true, "tls": true, "sse": true, "websocket": true}

// modeFrom: the --mode flag, else $TESTSRV_MODE, else json.
func modeFrom(flag string) string {
	m := flag
	if m == "" {
		m = os.Getenv("TESTSRV_MODE")
	}
	if m == "" {
		m = "json"
	}
	if !modes[m] {
		fmt.Fprintln(os.Stderr, "testsrv pod: unknown mode", m)
		os.Exit(2)
	}
	return m
}

// rawModes: the modes that are not HTTP at all, served by serveRaw.
var rawModes = map[string]bool{"hang": true, "reset": true, "close": true, "banner": true}

// serveRaw: the modes that are not HTTP at all (hang, reset, close, banner) on a plain TCP listener.
func serveRaw(port int, mode string) error {
	l, err := net.Listen("tcp", ":"+strconv.Itoa(port))
	if err != nil {
		return err
	}
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		go func() {
			if mode == "hang" || mode == "banner" {
				if mode == "banner" {
					io.WriteString(c, "SSH-2.0-testsrv\r\n")
				}
				io.Copy(io.Discard, c) // until the peer gives up
				c.Close()
				return
			}
			buf := make([]byte, 1024)
			c.Read(buf)
			if mode == "close" {
				c.Close()
				return
			}
			c.(*net.TCPConn).SetLinger(0) // close sends RST, not FIN
			c.Close()
		}()
	}
}

// modeAnswer: the HTTP answer of the modes other than json (which pod.go writes). id names the pod.
func modeAnswer(mode, id string, w http.ResponseWriter, r *http.Request) {
	pod := html.EscapeString(id)
	page := func(status int, title, body string) {
		w.Header().Set("content-type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		fmt.Fprintf(w, "<!doctype html>\n<html><head><title>%s</title></head><body><h1>%s</h1><p>%s</p></body></html>\n", title, title, body)
	}
	switch mode {
	case "text":
		w.Header().Set("content-type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "%s %s\n", id, r.URL.RequestURI())
	case "html":
		page(200, "testsrv", "served by "+pod)
	case "5xx":
		page(503, "Service Unavailable", "the app behind "+pod+" is failing")
	case "login":
		switch p := r.URL.Path; {
		case strings.HasPrefix(p, "/api/"):
			w.Header().Set("content-type", "application/json")
			w.WriteHeader(403)
			io.WriteString(w, `{"message": "Forbidden", "reason": null}`+"\n")
		case p == "/login":
			page(200, "Log in", `<form method="post"><input type="password" name="password"></form> `+pod)
		default:
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusFound)
		}
	case "sse":
		w.Header().Set("content-type", "text/event-stream")
		io.WriteString(w, "data: hello from "+id+"\n\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	case "tls":
		page(200, "testsrv", "served over TLS by "+pod)
	case "api":
		if r.URL.Path == "/docs" {
			page(200, "API docs", "served by "+pod)
			return
		}
		w.Header().Set("content-type", "application/json")
		w.WriteHeader(404)
		io.WriteString(w, `{"detail":"Not Found"}`)
	case "websocket":
		switch r.URL.Path {
		case "/":
			page(200, "testsrv", `served by `+pod+`; a WebSocket echo at <a href="/ws">/ws</a>`)
		case "/cookies": // what reached the app of the browser's cookies (a login in front must strip its own)
			w.Header().Set("content-type", "text/plain; charset=utf-8")
			io.WriteString(w, r.Header.Get("Cookie")+"\n")
		case "/ws":
			w.Header().Set("upgrade", "websocket")
			http.Error(w, "a WebSocket endpoint: upgrade required", http.StatusUpgradeRequired)
		default:
			http.NotFound(w, r)
		}
	}
}

// listenAndServe: plain HTTP, or (mode tls) HTTPS with a self-signed certificate made now.
func listenAndServe(port int, mode string, h http.Handler) error {
	srv := &http.Server{Addr: ":" + strconv.Itoa(port), Handler: h}
	if mode != "tls" {
		return srv.ListenAndServe()
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "testsrv"}, DNSNames: []string{"testsrv"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	return srv.ListenAndServeTLS("", "")
}
