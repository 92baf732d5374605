package proxy

import (
	"net/netip"
	"testing"
)

func TestStaleUDP(t *testing.T) {
	svc := udpFlow{netip.MustParseAddr("10.43.0.10"), 53}
	gone := udpFlow{netip.MustParseAddr("10.43.0.11"), 53}
	fresh := udpFlow{netip.MustParseAddr("10.43.0.12"), 53}
	a := endpoint{ip: netip.MustParseAddr("10.42.1.5"), port: 53}
	b := endpoint{ip: netip.MustParseAddr("10.42.2.5"), port: 53}
	before := map[udpFlow][]endpoint{svc: {a, b}, gone: {a}, fresh: nil}
	after := map[udpFlow][]endpoint{svc: {b}, fresh: {a}}
	got := map[staleFlow]bool{}
	for _, s := range staleUDP(before, after) {
		got[s] = true
	}
	for _, want := range []staleFlow{
		{flow: svc, endpoint: a.ip},  // a left the service
		{flow: gone, endpoint: a.ip}, // the service went away
		{flow: fresh},                // had no endpoint, has one now: every flow to it
	} {
		if !got[want] {
			t.Errorf("missing %+v in %+v", want, got)
		}
	}
	if len(got) != 3 {
		t.Errorf("want exactly 3 stale flows, got %+v", got)
	}
}
