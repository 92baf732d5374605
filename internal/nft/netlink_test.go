package nft

import (
	"bytes"
	"encoding/binary"
	"slices"
	"strings"
	"testing"

	"github.com/google/nftables/expr"
)

// The bytes the kernel compares: concatenated fields each start on a 4-byte boundary, ports in
// network order, numgen's slot in host order.
func TestEncodeElements(t *testing.T) {
	l, ok := parseLayout("", "ip daddr . tcp dport . numgen random mod 1 : ip daddr . tcp dport")
	if !ok {
		t.Fatal("the backends map's typeof did not parse")
	}
	key, err := encodeFields(l.key, []string{"10.43.0.10", "80", "2"})
	if err != nil {
		t.Fatal(err)
	}
	slot := []byte{2, 0, 0, 0}
	if isBigEndian() {
		slot = []byte{0, 0, 0, 2}
	}
	if want := append([]byte{10, 43, 0, 10, 0, 80, 0, 0}, slot...); !bytes.Equal(key, want) {
		t.Errorf("key: got % x, want % x", key, want)
	}
	value, err := encodeFields(l.value, []string{"10.42.1.5", "8080"})
	if want := []byte{10, 42, 1, 5, 0x1f, 0x90, 0, 0}; err != nil || !bytes.Equal(value, want) {
		t.Errorf("value: got % x, %v; want % x", value, err, want)
	}
	// A single field is not padded.
	if b, err := encodeFields([]field{fieldIPv6}, []string{"2001:cafe:43::10"}); err != nil || len(b) != 16 {
		t.Errorf("one IPv6 address: % x, %v", b, err)
	}
	v, err := encodeVerdict([]string{"goto pick-v4-tcp-2"})
	if err != nil || v.Kind != expr.VerdictGoto || v.Chain != "pick-v4-tcp-2" {
		t.Errorf("verdict: %+v, %v", v, err)
	}
	for _, bad := range [][]string{{"10.43.0.10", "tcp"}, {"2001::1", "tcp", "80"}, {"10.43.0.10", "icmp", "80"}, {"10.43.0.10", "tcp", "70000"}} {
		if _, err := encodeFields([]field{fieldIPv4, fieldProto, fieldPort}, bad); err == nil {
			t.Errorf("%v encoded without an error", bad)
		}
	}
	for _, bad := range []string{"goto", "drop now", "continue x", ""} {
		if _, err := encodeVerdict([]string{bad}); err == nil {
			t.Errorf("verdict %q encoded without an error", bad)
		}
	}
}

func isBigEndian() bool { return binary.NativeEndian.Uint16([]byte{0, 1}) == 1 }

// FuzzEncodeFields: any element text either encodes to the layout's length or is refused, and
// any type text either parses to a layout or is left to nft; nothing panics.
func FuzzEncodeFields(f *testing.F) {
	f.Add("10.43.0.10 . tcp . 80")
	f.Add("2001:cafe:43::10 . udp . 53")
	f.Add("10.43.0.10 . sctp . 65536")
	f.Add(" . . ")
	f.Add("ipv4_addr . inet_proto . inet_service : verdict")
	f.Add("ip daddr . tcp dport . numgen random mod 1 : ip daddr . tcp dport")
	f.Add("inet_service : verdict . verdict")
	f.Add("verdict")
	fields := []field{fieldIPv4, fieldProto, fieldPort}
	f.Fuzz(func(t *testing.T, text string) {
		b, err := encodeFields(fields, strings.Split(text, " . "))
		if err == nil && len(b) != 12 {
			t.Errorf("%q encoded to %d bytes, want 12", text, len(b))
		}
		_, _ = encodeVerdict([]string{text})
		for _, l := range []func() (layout, bool){
			func() (layout, bool) { return parseLayout(text, "") },
			func() (layout, bool) { return parseLayout("", text) },
		} {
			if got, ok := l(); ok && (len(got.key) == 0 || slices.Contains(got.key, fieldVerdict)) {
				t.Errorf("%q parsed to a layout with key %v", text, got.key)
			}
		}
	})
}
