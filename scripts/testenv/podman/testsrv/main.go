// testsrv: the stand-in servers and load clients of envserve's tests and benchmark.
// One static binary, copied into test images and run on the host alike, so every
// comparison in the benchmark uses the same server and the same client.
//
//	testsrv http   ADDR BODY        HTTP server answering every path with BODY (+ the request path)
//	testsrv echo   ADDR             TCP echo
//	testsrv source ADDR             on connect, writes the number of bytes the client asks for ("N\n")
//	testsrv tput   ADDR BYTES CONNS client: read BYTES through CONNS connections from a source; prints bytes/s
//	testsrv rtt    ADDR CONNS N GAP client: N ping-pongs of 64 bytes per connection, GAP µs apart; prints RTTs (µs)
//	testsrv pod    [--http PORTS] [--echo PORTS]  the Kubernetes test pods' server (pod.go)
//	testsrv get    URL              client: GET URL (Go's own DNS resolver), body to stdout; exit 1 unless 2xx
package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"
)

func main() {
	if len(os.Args) >= 2 && os.Args[1] == "pod" {
		podMain(os.Args[2:])
		return
	}
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: testsrv http|echo|source|tput|rtt|pod|get ADDR ...")
		os.Exit(2)
	}
	addr := os.Args[2]
	switch os.Args[1] {
	case "http":
		body := os.Args[3]
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "%s %s\n", body, r.URL.Path)
		})
		must(http.ListenAndServe(addr, h))
	case "echo":
		serve(addr, func(c net.Conn) { io.Copy(c, c) })
	case "get":
		get(addr)
	case "source":
		serve(addr, source)
	case "tput":
		tput(addr, atoi(os.Args[3]), atoi(os.Args[4]))
	case "rtt":
		rtt(addr, atoi(os.Args[3]), atoi(os.Args[4]), atoi(os.Args[5]))
	default:
		fmt.Fprintln(os.Stderr, "unknown mode", os.Args[1])
		os.Exit(2)
	}
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func atoi(s string) int { n, err := strconv.Atoi(s); must(err); return n }

func serve(addr string, handle func(net.Conn)) {
	l, err := net.Listen("tcp", addr)
	must(err)
	for {
		c, err := l.Accept()
		must(err)
		go func() { defer c.Close(); handle(c) }()
	}
}

var block = make([]byte, 256<<10)

func source(c net.Conn) {
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return
	}
	n, _ := strconv.Atoi(line[:len(line)-1])
	for n > 0 {
		k := len(block)
		if n < k {
			k = n
		}
		if _, err := c.Write(block[:k]); err != nil {
			return
		}
		n -= k
	}
}

func tput(addr string, total, conns int) {
	per := total / conns
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", addr)
			must(err)
			defer c.Close()
			fmt.Fprintf(c, "%d\n", per)
			got, err := io.Copy(io.Discard, c)
			must(err)
			if int(got) != per {
				must(fmt.Errorf("short read: %d of %d", got, per))
			}
		}()
	}
	wg.Wait()
	fmt.Printf("%.0f\n", float64(per*conns)/time.Since(start).Seconds())
}

func rtt(addr string, conns, n, gapMicros int) {
	var mu sync.Mutex
	var all []int64
	var wg sync.WaitGroup
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c, err := net.Dial("tcp", addr)
			must(err)
			defer c.Close()
			msg := make([]byte, 64)
			buf := make([]byte, 64)
			// spread the connections over the gap so the load is steady, not in bursts
			if gapMicros > 0 {
				time.Sleep(time.Duration(gapMicros*i/conns) * time.Microsecond)
			}
			local := make([]int64, 0, n)
			for j := 0; j < n; j++ {
				t := time.Now()
				_, err := c.Write(msg)
				must(err)
				_, err = io.ReadFull(c, buf)
				must(err)
				local = append(local, time.Since(t).Microseconds())
				if gapMicros > 0 {
					time.Sleep(time.Duration(gapMicros) * time.Microsecond)
				}
			}
			mu.Lock()
			all = append(all, local...)
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	sort.Slice(all, func(a, b int) bool { return all[a] < all[b] })
	p := func(q float64) int64 { return all[int(q*float64(len(all)-1))] }
	fmt.Printf("%d %d %d\n", p(0.5), p(0.99), len(all))
}
