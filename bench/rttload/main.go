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
// epoll_wait, whose timeout is whole milliseconds, so every sleeping goroutine wakes on the same
// millisecond ticks: 100 connections pinging every 10 ms send in bursts of ~10 within a few µs,
// and a burst queues behind itself in any single-threaded forwarder. Here each connection waits
// on its own timerfd (read through the netpoller), which the kernel fires to the microsecond.
//
// Prints: p50 p99 p99.9 count (round trip, µs, from the write to the whole echo); the client's
// own lateness against its schedule, p50 p99 (µs), so a busy client shows itself; and the p99 of
// how many other pings were sent in the 50 µs before each one (the burstiness of the load).
package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"math/rand"
	"net"
	"os"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "rttload:", err)
		os.Exit(1)
	}
}

func atoi(s string) int { n, err := strconv.Atoi(s); must(err); return n }

// timer is a timerfd in the Go netpoller: Wait blocks the goroutine, not the thread.
type timer struct {
	fd int
	f  *os.File
}

func newTimer() *timer {
	const clockMonotonic, tfdNonblock, tfdCloexec = 1, syscall.O_NONBLOCK, syscall.O_CLOEXEC
	fd, _, e := syscall.Syscall(syscall.SYS_TIMERFD_CREATE, clockMonotonic, tfdNonblock|tfdCloexec, 0)
	if e != 0 {
		must(e)
	}
	return &timer{fd: int(fd), f: os.NewFile(fd, "timerfd")}
}

// Wait returns after d (at once if d <= 0).
func (t *timer) Wait(d time.Duration) {
	if d <= 0 {
		return
	}
	spec := [4]int64{0, 0, int64(d / time.Second), int64(d % time.Second)} // interval 0, then value
	_, _, e := syscall.Syscall6(syscall.SYS_TIMERFD_SETTIME, uintptr(t.fd), 0, uintptr(unsafe.Pointer(&spec[0])), 0, 0, 0)
	if e != 0 {
		must(e)
	}
	var b [8]byte
	_, err := io.ReadFull(t.f, b[:])
	must(err)
	_ = binary.LittleEndian.Uint64(b[:])
}

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
		c.(*net.TCPConn).SetNoDelay(true)
		cs[i] = c
	}
	var mu sync.Mutex
	var rtts, late, sends []int64
	var wg sync.WaitGroup
	start := time.Now().Add(20 * time.Millisecond)
	for i, c := range cs {
		wg.Add(1)
		go func(i int, c net.Conn) {
			defer wg.Done()
			defer c.Close()
			rng := rand.New(rand.NewSource(seed*1000003 + int64(i)))
			t := newTimer()
			defer t.f.Close()
			msg, buf := make([]byte, 64), make([]byte, 64)
			myRtt, myLate, mySends := make([]int64, 0, n), make([]int64, 0, n), make([]int64, 0, n)
			due := start.Add(time.Duration(rng.Int63n(int64(gap))))
			for j := 0; j < n; j++ {
				t.Wait(time.Until(due))
				t0 := time.Now()
				myLate = append(myLate, t0.Sub(due).Microseconds())
				mySends = append(mySends, t0.Sub(start).Microseconds())
				_, err := c.Write(msg)
				must(err)
				_, err = io.ReadFull(c, buf)
				must(err)
				end := time.Now()
				myRtt = append(myRtt, end.Sub(t0).Microseconds())
				due = end.Add(gap/2 + time.Duration(rng.Int63n(int64(gap)+1)))
			}
			mu.Lock()
			rtts, late, sends = append(rtts, myRtt...), append(late, myLate...), append(sends, mySends...)
			mu.Unlock()
		}(i, c)
	}
	wg.Wait()
	q := func(xs []int64, p float64) int64 { return xs[int(p*float64(len(xs)-1))] }
	for _, xs := range [][]int64{rtts, late, sends} {
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
	fmt.Printf("%d %d %d %d %d %d %d\n", q(rtts, 0.5), q(rtts, 0.99), q(rtts, 0.999), len(rtts), q(late, 0.5), q(late, 0.99), q(near, 0.99))
}
