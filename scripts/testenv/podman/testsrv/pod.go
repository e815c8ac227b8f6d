// testsrv pod: the test server of the Kubernetes tests' pods (scripts/testenv/k8s/images.sh puts
// it in an image). It answers so that a test can tell WHICH pod answered: the pod's hostname is
// its name, and every HTTP answer carries it.
//
//	testsrv pod [--http PORT,...] [--echo PORT,...] [--mode MODE] [--relay PORT=HOST:PORT]
//	            (default: --http 8080 --echo 9000)
//
// HTTP ports:  any method/path   -> 200 JSON {pod, namespace, port, ip, method, path, host}
//                                   and header x-envserve-pod: <namespace>/<pod>:<port>
//              POST|PUT /echo    -> 200, the request body byte for byte
//              WebSocket upgrade -> every text/binary message echoed back
//              (that is mode json, the default; the other modes are in modes.go)
// echo ports:  raw TCP echo.
// relay port:  every connection passed on to HOST:PORT byte for byte (the cheapest possible proxy
//              hop, kernel splice both ways: bench:share's floor for anything in the path).
// The namespace comes from $POD_NAMESPACE, else the service account's namespace file.
// With $TESTSRV_LOG_REQUESTS set, every HTTP request is logged on stdout ("request METHOD URI"),
// so a test can read from the pod's log whether a request reached the app.
package main

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

func podMain(args []string) {
	httpPorts, echoPorts, modeFlag := []int{8080}, []int{9000}, ""
	for i := 0; i+1 < len(args); i += 2 {
		switch args[i] {
		case "--http":
			httpPorts = parsePorts(args[i+1])
		case "--echo":
			echoPorts = parsePorts(args[i+1])
		case "--mode":
			modeFlag = args[i+1]
		case "--relay":
			port, target, ok := strings.Cut(args[i+1], "=")
			if !ok {
				fmt.Fprintln(os.Stderr, "testsrv pod: --relay PORT=HOST:PORT")
				os.Exit(2)
			}
			go relay(port, target)
		default:
			fmt.Fprintln(os.Stderr, "testsrv pod: unknown flag", args[i])
			os.Exit(2)
		}
	}
	pod, _ := os.Hostname()
	ns := os.Getenv("POD_NAMESPACE")
	if ns == "" {
		b, _ := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
		ns = strings.TrimSpace(string(b))
	}
	errs := make(chan error)
	for _, p := range echoPorts {
		l, err := net.Listen("tcp", ":"+strconv.Itoa(p))
		must(err)
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					errs <- err
					return
				}
				go func() { defer c.Close(); io.Copy(c, c) }()
			}
		}()
	}
	mode := modeFrom(modeFlag)
	logRequests := os.Getenv("TESTSRV_LOG_REQUESTS") != ""
	for _, p := range httpPorts {
		port := p
		if rawModes[mode] {
			go func() { errs <- serveRaw(port, mode) }()
			continue
		}
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id := fmt.Sprintf("%s/%s:%d", ns, pod, port)
			if logRequests {
				fmt.Printf("request %s %s\n", r.Method, r.URL.RequestURI())
			}
			w.Header().Set("x-envserve-pod", id)
			if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
				wsEcho(w, r)
				return
			}
			if mode != "json" {
				io.Copy(io.Discard, r.Body)
				modeAnswer(mode, id, w, r)
				return
			}
			if (r.Method == "POST" || r.Method == "PUT") && r.URL.Path == "/echo" {
				body, err := io.ReadAll(r.Body)
				if err != nil {
					return
				}
				w.Header().Set("content-type", "application/octet-stream")
				w.Header().Set("content-length", strconv.Itoa(len(body)))
				w.Write(body)
				return
			}
			io.Copy(io.Discard, r.Body)
			ip := ""
			if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
				ip, _, _ = net.SplitHostPort(a.String())
			}
			var host any
			if r.Host != "" {
				host = r.Host
			}
			b, _ := json.Marshal(map[string]any{
				"pod": pod, "namespace": ns, "port": port, "ip": ip,
				"method": r.Method, "path": r.URL.RequestURI(), "host": host,
			})
			w.Header().Set("content-type", "application/json")
			w.Write(append(b, '\n'))
		})
		go func() { errs <- listenAndServe(port, mode, h) }()
	}
	fmt.Printf("testsrv pod %s/%s: http %v (%s), echo %v\n", ns, pod, httpPorts, mode, echoPorts)
	must(<-errs)
}

func get(url string) {
	c := &http.Client{Timeout: 5 * time.Second}
	r, err := c.Get(url)
	must(err)
	defer r.Body.Close()
	_, err = io.Copy(os.Stdout, r.Body)
	must(err)
	if r.StatusCode/100 != 2 {
		must(fmt.Errorf("GET %s: %s", url, r.Status))
	}
}

func parsePorts(s string) []int {
	var out []int
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, atoi(p))
		}
	}
	return out
}

// wsEcho: a minimal RFC 6455 server that echoes text/binary messages and answers pings.
func wsEcho(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("Sec-WebSocket-Key")
	hj, ok := w.(http.Hijacker)
	if key == "" || !ok {
		http.Error(w, "bad websocket request", 400)
		return
	}
	conn, rw, err := hj.Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	fmt.Fprintf(rw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\nx-envserve-pod: %s\r\n\r\n",
		base64.StdEncoding.EncodeToString(sum[:]), w.Header().Get("x-envserve-pod"))
	if rw.Flush() != nil {
		return
	}
	var msg []byte
	var msgOp byte
	for {
		fin, op, payload, err := readFrame(rw.Reader)
		if err != nil {
			return
		}
		switch op {
		case 0x8: // close
			if len(payload) > 2 {
				payload = payload[:2]
			}
			writeFrame(conn, 0x8, payload)
			return
		case 0x9: // ping
			writeFrame(conn, 0xA, payload)
			continue
		case 0xA:
			continue
		case 0x0:
		default:
			msgOp, msg = op, nil
		}
		msg = append(msg, payload...)
		if fin {
			if writeFrame(conn, msgOp, msg) != nil {
				return
			}
			msg = nil
		}
	}
}

func readFrame(r *bufio.Reader) (bool, byte, []byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return false, 0, nil, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return false, 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return false, 0, nil, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	var mask [4]byte
	masked := h[1]&0x80 != 0
	if masked {
		if _, err := io.ReadFull(r, mask[:]); err != nil {
			return false, 0, nil, err
		}
	}
	if n > 64<<20 {
		return false, 0, nil, fmt.Errorf("frame too large")
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		return false, 0, nil, err
	}
	if masked {
		for i := range p {
			p[i] ^= mask[i%4]
		}
	}
	return h[0]&0x80 != 0, h[0] & 0x0f, p, nil
}

func writeFrame(w io.Writer, op byte, p []byte) error {
	h := []byte{0x80 | op}
	switch n := len(p); {
	case n < 126:
		h = append(h, byte(n))
	case n < 65536:
		h = append(h, 126, byte(n>>8), byte(n))
	default:
		h = append(h, 127)
		h = binary.BigEndian.AppendUint64(h, uint64(n))
	}
	_, err := w.Write(append(h, p...))
	return err
}

// relay passes every connection on :port to target, both ways; a half-close is passed on.
func relay(port, target string) {
	l, err := net.Listen("tcp", ":"+port)
	must(err)
	for {
		c, err := l.Accept()
		if err != nil {
			continue
		}
		go func() {
			defer c.Close()
			up, err := net.Dial("tcp", target)
			if err != nil {
				return
			}
			defer up.Close()
			done := make(chan struct{})
			go func() { io.Copy(up, c); up.(*net.TCPConn).CloseWrite(); close(done) }()
			io.Copy(c, up)
			c.(*net.TCPConn).CloseWrite()
			<-done
		}()
	}
}
