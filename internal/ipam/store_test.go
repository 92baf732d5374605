package ipam

import (
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func pfx(s ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(s))
	for i, x := range s {
		out[i] = netip.MustParsePrefix(x)
	}
	return out
}

func addrs(s ...string) []netip.Addr {
	out := make([]netip.Addr, len(s))
	for i, x := range s {
		out[i] = netip.MustParseAddr(x)
	}
	return out
}

func key(i int) Key { return Key{ContainerID: "c" + strconv.Itoa(i), IfName: "eth0"} }

func open(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.TempDir(), "weft")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAllocateSequence(t *testing.T) {
	tests := []struct {
		name   string
		ranges []netip.Prefix
		want   [][]netip.Addr
		full   bool // no address is left after want
	}{
		{"ipv4 skips network and gateway", pfx("10.42.0.0/24"),
			[][]netip.Addr{addrs("10.42.0.2"), addrs("10.42.0.3")}, false},
		{"ipv6 skips subnet-router and gateway", pfx("2001:cafe:42::/64"),
			[][]netip.Addr{addrs("2001:cafe:42::2"), addrs("2001:cafe:42::3")}, false},
		{"dual-stack keeps the family order", pfx("2001:cafe:42::/64", "10.42.0.0/24"),
			[][]netip.Addr{addrs("2001:cafe:42::2", "10.42.0.2"), addrs("2001:cafe:42::3", "10.42.0.3")}, false},
		{"/30 has one pod address", pfx("10.42.0.4/30"),
			[][]netip.Addr{addrs("10.42.0.6")}, true},
		{"/29 skips broadcast and wraps", pfx("10.42.0.0/29"),
			[][]netip.Addr{addrs("10.42.0.2"), addrs("10.42.0.3"), addrs("10.42.0.4"), addrs("10.42.0.5"), addrs("10.42.0.6")}, true},
		{"ipv6 /126 may use its last address", pfx("2001:db8::/126"),
			[][]netip.Addr{addrs("2001:db8::2"), addrs("2001:db8::3")}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			for i, want := range tt.want {
				got, created, err := s.Allocate(key(i), tt.ranges)
				if err != nil {
					t.Fatalf("allocation %d: %v", i, err)
				}
				if !created || !slices.Equal(got, want) {
					t.Fatalf("allocation %d = %v (created %v), want %v", i, got, created, want)
				}
			}
			_, _, err := s.Allocate(key(len(tt.want)), tt.ranges)
			if full := errors.Is(err, ErrExhausted); full != tt.full || (err != nil && !full) {
				t.Fatalf("next allocation: %v, want exhausted %v", err, tt.full)
			}
		})
	}
}

func TestExhaustion(t *testing.T) {
	s := open(t)
	ranges := pfx("10.42.0.0/30", "2001:db8::/64")
	if _, _, err := s.Allocate(key(0), ranges); err != nil {
		t.Fatal(err)
	}
	if err := s.Available(ranges); !errors.Is(err, ErrExhausted) || !strings.Contains(err.Error(), "10.42.0.0/30") {
		t.Fatalf("Available on a full /30 = %v, want ErrExhausted naming the range", err)
	}
	_, _, err := s.Allocate(key(1), ranges)
	if !errors.Is(err, ErrExhausted) {
		t.Fatalf("second allocation in a /30 = %v, want ErrExhausted", err)
	}
	// A failed allocation must not keep the IPv6 address it could have had.
	leases, _ := s.Leases()
	if len(leases) != 1 {
		t.Fatalf("leases after a failed allocation = %v, want only the first", leases)
	}
	if _, err := s.Release(key(0)); err != nil {
		t.Fatal(err)
	}
	if err := s.Available(ranges); err != nil {
		t.Fatalf("Available after release = %v", err)
	}
}

func TestReleaseAndReuseOrder(t *testing.T) {
	s := open(t)
	ranges := pfx("10.42.0.0/29") // pods get .2 to .6
	for i := range 3 {
		if _, _, err := s.Allocate(key(i), ranges); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 { // release is idempotent
		if _, err := s.Release(key(1)); err != nil { // frees .3
			t.Fatal(err)
		}
	}
	if found, _ := s.Release(key(1)); found {
		t.Fatal("Release of a released key reported a lease")
	}
	var got []netip.Addr
	for i := 3; i < 6; i++ {
		ips, _, err := s.Allocate(key(i), ranges)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ips...)
	}
	// Round robin: .5 and .6 come before the freed .3 is handed out again.
	if want := addrs("10.42.0.5", "10.42.0.6", "10.42.0.3"); !slices.Equal(got, want) {
		t.Fatalf("allocations after a release = %v, want %v", got, want)
	}
}

func TestAllocateIsIdempotentPerKey(t *testing.T) {
	s := open(t)
	first, created, err := s.Allocate(key(0), pfx("10.42.0.0/24"))
	if err != nil || !created {
		t.Fatalf("first allocation: %v, created %v", err, created)
	}
	// A retried ADD keeps its IPv4 address and gains an IPv6 one once the node has it.
	again, created, err := s.Allocate(key(0), pfx("10.42.0.0/24", "2001:db8::/64"))
	if err != nil || created {
		t.Fatalf("second allocation: %v, created %v", err, created)
	}
	if want := append(first, netip.MustParseAddr("2001:db8::2")); !slices.Equal(again, want) {
		t.Fatalf("second allocation = %v, want %v", again, want)
	}
	l, ok, err := s.Get(key(0))
	if err != nil || !ok || !slices.Equal(l.IPs, again) {
		t.Fatalf("Get = %v %v %v", l, ok, err)
	}
}

func TestSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	s, _ := Open(dir, "weft")
	if _, _, err := s.Allocate(key(0), pfx("10.42.0.0/24")); err != nil {
		t.Fatal(err)
	}
	s2, _ := Open(dir, "weft")
	ips, _, err := s2.Allocate(key(1), pfx("10.42.0.0/24"))
	if err != nil || ips[0] != netip.MustParseAddr("10.42.0.3") {
		t.Fatalf("allocation after reopen = %v, %v", ips, err)
	}
	other, _ := Open(dir, "other")
	if ips, _, _ := other.Allocate(key(0), pfx("10.42.0.0/24")); ips[0] != netip.MustParseAddr("10.42.0.2") {
		t.Fatalf("networks must not share leases, got %v", ips)
	}
}

func TestRetain(t *testing.T) {
	s := open(t)
	for i := range 4 {
		if _, _, err := s.Allocate(key(i), pfx("10.42.0.0/24")); err != nil {
			t.Fatal(err)
		}
	}
	valid := map[Key]bool{key(0): true, key(2): true}
	freed, err := s.Retain(func(k Key) bool { return valid[k] })
	if err != nil {
		t.Fatal(err)
	}
	if len(freed) != 2 || freed[0].Key != key(1) || freed[1].Key != key(3) {
		t.Fatalf("freed %v, want leases of %v and %v", freed, key(1), key(3))
	}
	left, _ := s.Leases()
	if len(left) != 2 || left[0].Key != key(0) || left[1].Key != key(2) {
		t.Fatalf("left %v", left)
	}
}

func TestCorruptStore(t *testing.T) {
	s := open(t)
	if err := os.WriteFile(filepath.Join(s.Dir(), stateFile), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Allocate(key(0), pfx("10.42.0.0/24")); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("Allocate on a corrupt store = %v", err)
	}
}

func TestOpenRejectsPathNames(t *testing.T) {
	for _, n := range []string{"", ".", "..", "a/b"} {
		if _, err := Open(t.TempDir(), n); err == nil {
			t.Errorf("Open(%q) succeeded", n)
		}
	}
}

// childEnv makes the test binary a one-shot allocator, so the concurrency test runs real
// separate processes that share nothing but the store on disk.
const childEnv = "WEFT_IPAM_TEST_ALLOCATE"

func TestMain(m *testing.M) {
	if spec := os.Getenv(childEnv); spec != "" {
		dir, id, _ := strings.Cut(spec, "|")
		s, err := Open(dir, "weft")
		if err == nil {
			var ips []netip.Addr
			ips, _, err = s.Allocate(Key{ContainerID: id, IfName: "eth0"}, pfx("10.42.0.0/24", "2001:cafe:42::/64"))
			if err == nil {
				for _, a := range ips {
					os.Stdout.WriteString(a.String() + "\n")
				}
				os.Exit(0)
			}
		}
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(1)
	}
	os.Exit(m.Run())
}

func TestConcurrentProcesses(t *testing.T) {
	const n = 50
	dir := t.TempDir()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		seen = map[string]int{}
	)
	for i := range n {
		wg.Go(func() {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), childEnv+"="+dir+"|pod"+strconv.Itoa(i))
			out, err := cmd.Output()
			if err != nil {
				t.Errorf("allocator process %d: %v", i, err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for _, a := range strings.Fields(string(out)) {
				seen[a]++
			}
		})
	}
	wg.Wait()
	if len(seen) != 2*n {
		t.Fatalf("%d processes got %d distinct addresses, want %d", n, len(seen), 2*n)
	}
	for a, c := range seen {
		if c != 1 {
			t.Errorf("%s handed out %d times", a, c)
		}
	}
	s, _ := Open(dir, "weft")
	leases, err := s.Leases()
	if err != nil || len(leases) != n {
		t.Fatalf("store holds %d leases (%v), want %d", len(leases), err, n)
	}
}

func BenchmarkAllocateRelease(b *testing.B) {
	s, err := Open(b.TempDir(), "weft")
	if err != nil {
		b.Fatal(err)
	}
	ranges := pfx("10.42.0.0/24", "2001:cafe:42::/64")
	for i := 0; b.Loop(); i++ {
		k := Key{ContainerID: "c" + strconv.Itoa(i), IfName: "eth0"}
		if _, _, err := s.Allocate(k, ranges); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Release(k); err != nil {
			b.Fatal(err)
		}
	}
}
