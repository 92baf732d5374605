package main

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"golang.org/x/sys/unix"

	"github.com/weftnet/weft/internal/netns"
)

// connectResult is one client opening TCP connections to ClusterIPs one after another, taking
// the services in turn: each
// SYN goes through the proxier's DNAT (a new conntrack entry, so the whole rule lookup) to a
// real listener; the connection is reset as soon as it is up, so no TIME_WAIT piles up.
type connectResult struct {
	N        int
	Failures int
	Rate     float64 // connections per second
	P50, P99 time.Duration
}

// warmup is left out of the figures: the first connections fill ARP and route caches.
const warmup = 300 * time.Millisecond

func connectTest(ctx context.Context, nsPath string, dsts []netip.AddrPort, d time.Duration) (connectResult, error) {
	var res connectResult
	var lat []time.Duration
	err := netns.Do(nsPath, func() error {
		for _, dst := range dsts {
			if _, err := connectOnce(dst); err != nil {
				return fmt.Errorf("first connection to %s: %w", dst, err)
			}
		}
		start := time.Now()
		measureFrom, end := start.Add(warmup), start.Add(warmup+d)
		for i, now := 0, start; now.Before(end) && ctx.Err() == nil; i, now = i+1, time.Now() {
			l, err := connectOnce(dsts[i%len(dsts)])
			if now.Before(measureFrom) {
				continue
			}
			if err != nil {
				res.Failures++
				continue
			}
			lat = append(lat, l)
		}
		res.Rate = float64(len(lat)) / time.Since(measureFrom).Seconds()
		return ctx.Err()
	})
	if err != nil {
		return res, err
	}
	if res.N = len(lat); res.N == 0 {
		return res, fmt.Errorf("no connection succeeded (%d failed)", res.Failures)
	}
	slices.Sort(lat)
	res.P50, res.P99 = lat[res.N/2], lat[res.N*99/100]
	return res, nil
}

// connectOnce is a blocking connect on the calling (namespaced) thread, timed from the call to
// its return, then a reset. One SYN retry at most, so a dropped SYN shows as a second, not two
// minutes.
func connectOnce(dst netip.AddrPort) (time.Duration, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("socket: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0}); err != nil {
		return 0, fmt.Errorf("SO_LINGER: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_SYNCNT, 1); err != nil {
		return 0, fmt.Errorf("TCP_SYNCNT: %w", err)
	}
	start := time.Now()
	err = unix.Connect(fd, &unix.SockaddrInet4{Port: int(dst.Port()), Addr: dst.Addr().As4()})
	took := time.Since(start)
	if err != nil {
		return took, fmt.Errorf("connect %s: %w", dst, err)
	}
	return took, nil
}
