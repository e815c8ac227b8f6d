// rttload: the latency load of bench/local.bench.ts. CONNS connections to an echo server, each an
// independent client: 64-byte ping, wait for the echo, then the next ping after a random pause.
//
//	rttload ADDR CONNS N MEAN_GAP_US SEED
//
// Each connection starts at a random offset in [0, MEAN_GAP) and then waits a random pause,
// uniform in [MEAN_GAP/2, 3*MEAN_GAP/2], after each reply, so the clients drift apart the way
// independent ones do: together they send ~CONNS/MEAN_GAP pings per second at random (nearly
// Poisson) moments, neither in lockstep nor evenly interleaved. The pauses come from SEED, so
// every path measured with the same SEED gets the same schedule.
//
// Why not Go's timers (time.Sleep, as testsrv rtt uses): the runtime waits for them in
// epoll_wait, whose timeout is whole milliseconds, so sleeping goroutines wake together on
// millisecond ticks: 100 connections pinging every 10 ms send in bursts of ~10 within a few µs,
// and a burst queues behind itself in any single-threaded forwarder. Here one pacer thread
// sleeps in nanosleep (timer slack 1 µs) until the next ping is due and writes it; each
// connection's goroutine reads its echoes. That is also cheaper on a small machine than a timer
// per connection: the client competes for the same cores as the servers it measures.
//
// Prints: p50 p99 p99.9 count (round trip, µs, from the write to the whole echo); the client's
// own lateness against its schedule, p50 p99 (µs), so a busy client shows itself; and the p99 of
// how many other pings were sent in the 50 µs before each one (the burstiness of the load).
package main

import (
	"container/heap"
	"fmt"
	"io"
	"math/rand"
	"net"
	"os"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "rttload:", err)
		os.Exit(1)
	}
}

func atoi(s string) int { n, err := strconv.Atoi(s); must(err); return n }

type due struct {
	at   time.Duration // since start
	conn int
}
type dueHeap []due

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(a, b int) bool { return h[a].at < h[b].at }
func (h dueHeap) Swap(a, b int)      { h[a], h[b] = h[b], h[a] }
func (h *dueHeap) Push(x any)        { *h = append(*h, x.(due)) }
func (h *dueHeap) Pop() any          { old := *h; x := old[len(old)-1]; *h = old[:len(old)-1]; return x }

func main() {
	if len(os.Args) != 6 {
		fmt.Fprintln(os.Stderr, "usage: rttload ADDR CONNS N MEAN_GAP_US SEED")
		os.Exit(2)
	}
	addr := os.Args[1]
	conns, n, gap, seed := atoi(os.Args[2]), atoi(os.Args[3]), time.Duration(atoi(os.Args[4]))*time.Microsecond, int64(atoi(os.Args[5]))
	// All connections first, so connecting is not part of the schedule.
	cs := make([]net.Conn, conns)
	for i := range cs {
		c, err := net.Dial("tcp", addr)
		must(err)
		must(c.(*net.TCPConn).SetNoDelay(true))
		cs[i] = c
	}
	var mu sync.Mutex
	var queue dueHeap
	rngs := make([]*rand.Rand, conns)
	for i := range rngs {
		rngs[i] = rand.New(rand.NewSource(seed*1000003 + int64(i)))
		queue = append(queue, due{time.Duration(rngs[i].Int63n(int64(gap))), i})
	}
	heap.Init(&queue)
	sentAt := make([]atomic.Int64, conns) // ns since start, written by the pacer before the ping
	rtts := make([][]int64, conns)
	late := make([]int64, 0, conns*n)
	sends := make([]int64, 0, conns*n)
	start := time.Now().Add(20 * time.Millisecond)

	var readers sync.WaitGroup
	for i, c := range cs {
		readers.Add(1)
		go func(i int, c net.Conn) {
			defer readers.Done()
			buf := make([]byte, 64)
			mine := make([]int64, 0, n)
			for j := 0; j < n; j++ {
				_, err := io.ReadFull(c, buf)
				must(err)
				end := time.Since(start)
				mine = append(mine, (end - time.Duration(sentAt[i].Load())).Microseconds())
				if j+1 < n {
					next := end + gap/2 + time.Duration(rngs[i].Int63n(int64(gap)+1))
					mu.Lock()
					heap.Push(&queue, due{next, i})
					mu.Unlock()
				}
			}
			rtts[i] = mine
		}(i, c)
	}

	// The pacer: one locked thread, precise sleeps, writes every ping itself.
	go func() {
		runtime.LockOSThread()
		syscall.RawSyscall(syscall.SYS_PRCTL, 29 /* PR_SET_TIMERSLACK */, 1000, 0)
		msg := make([]byte, 64)
		for sent := 0; sent < conns*n; {
			mu.Lock()
			var next due
			has := queue.Len() > 0
			if has {
				next = queue[0]
			}
			now := time.Since(start)
			if has && next.at <= now {
				heap.Pop(&queue)
				mu.Unlock()
				sentAt[next.conn].Store(int64(now))
				_, err := cs[next.conn].Write(msg)
				must(err)
				late = append(late, (now - next.at).Microseconds())
				sends = append(sends, now.Microseconds())
				sent++
				continue
			}
			mu.Unlock()
			// Until the next ping is due, at most 1 ms: a reply may queue an earlier one meanwhile
			// (not within 1 ms: pauses are at least MEAN_GAP/2).
			wait := time.Millisecond
			if has && next.at-now < wait {
				wait = next.at - now
			}
			ts := syscall.NsecToTimespec(int64(wait))
			syscall.Nanosleep(&ts, nil)
		}
	}()
	readers.Wait()
	for _, c := range cs {
		c.Close()
	}

	var all []int64
	for _, r := range rtts {
		all = append(all, r...)
	}
	q := func(xs []int64, p float64) int64 { return xs[int(p*float64(len(xs)-1))] }
	for _, xs := range [][]int64{all, late, sends} {
		sort.Slice(xs, func(a, b int) bool { return xs[a] < xs[b] })
	}
	// Burstiness: how many other pings were sent in the 50 µs before each one.
	near := make([]int64, len(sends))
	for i, k := 0, 0; i < len(sends); i++ {
		for sends[k] < sends[i]-50 {
			k++
		}
		near[i] = int64(i - k)
	}
	sort.Slice(near, func(a, b int) bool { return near[a] < near[b] })
	fmt.Printf("%d %d %d %d %d %d %d\n", q(all, 0.5), q(all, 0.99), q(all, 0.999), len(all), q(late, 0.5), q(late, 0.99), q(near, 0.99))
}
