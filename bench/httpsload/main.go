// httpsload: the load of bench/share-cluster.ts. CONNS keep-alive HTTPS clients (one connection
// each, TLS verified against CAFILE with SNI = HOST), each sending GET PATH back to back for
// SECONDS, with an optional Cookie header. Written in Go rather than Node so the client costs
// less of this small machine's CPU than the Traefik and gateway it measures. With "jar" after the
// cookie, the clients share a cookie jar that starts with COOKIE and takes what the answers set,
// as one browser's tabs would (envserve's pass comes and goes that way).
//
//	httpsload ADDR HOST PATH CONNS SECONDS CAFILE [COOKIE [jar]]
//
// Prints one JSON line: requests (200 answers), seconds, errors (anything else), p50 and p99 (ms).
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	neturl "net/url"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"
)

func main() {
	if len(os.Args) < 7 {
		fmt.Fprintln(os.Stderr, "usage: httpsload ADDR HOST PATH CONNS SECONDS CAFILE [COOKIE]")
		os.Exit(2)
	}
	addr, host, path := os.Args[1], os.Args[2], os.Args[3]
	conns, _ := strconv.Atoi(os.Args[4])
	secs, _ := strconv.ParseFloat(os.Args[5], 64)
	ca, err := os.ReadFile(os.Args[6])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cookie := ""
	if len(os.Args) > 7 {
		cookie = os.Args[7]
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	_, port, _ := net.SplitHostPort(addr)
	url := "https://" + host + ":" + port + path
	var jar http.CookieJar
	if len(os.Args) > 8 && os.Args[8] == "jar" {
		j, _ := cookiejar.New(nil)
		u, _ := neturl.Parse(url)
		j.SetCookies(u, (&http.Request{Header: http.Header{"Cookie": {cookie}}}).Cookies())
		jar, cookie = j, ""
	}
	var mu sync.Mutex
	var lat []float64
	errors := 0
	end := time.Now().Add(time.Duration(secs * float64(time.Second)))
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// One transport per client: one connection each, kept alive (HTTP/1.1, as browsers to Traefik without h2 would).
			tr := &http.Transport{
				TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: host},
				DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
					return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
				},
				MaxIdleConnsPerHost: 1,
				ForceAttemptHTTP2:   false,
				TLSNextProto:        map[string]func(string, *tls.Conn) http.RoundTripper{},
			}
			c := &http.Client{Transport: tr, Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			mine := make([]float64, 0, 4096)
			bad := 0
			for time.Now().Before(end) {
				req, _ := http.NewRequest("GET", url, nil)
				if cookie != "" {
					req.Header.Set("Cookie", cookie)
				}
				t0 := time.Now()
				res, err := c.Do(req)
				if err != nil {
					bad++
					continue
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode == 200 {
					mine = append(mine, float64(time.Since(t0).Nanoseconds())/1e6)
				} else {
					bad++
				}
			}
			tr.CloseIdleConnections()
			mu.Lock()
			lat = append(lat, mine...)
			errors += bad
			mu.Unlock()
		}()
	}
	wg.Wait()
	took := time.Since(start).Seconds()
	sort.Float64s(lat)
	pick := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		i := int(p * float64(len(lat)))
		if i >= len(lat) {
			i = len(lat) - 1
		}
		return lat[i]
	}
	out, _ := json.Marshal(map[string]any{"requests": len(lat), "seconds": took, "errors": errors, "p50": pick(0.5), "p99": pick(0.99)})
	fmt.Println(string(out))
}
