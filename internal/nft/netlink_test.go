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

// Ranges in an interval set's key: a concatenation's box is its fields' first values and last
// values, each padded; a set of one field ends a range on the key after it, or not at all.
func TestEncodeRanges(t *testing.T) {
	fields := []field{fieldIPv4, fieldIPv4, fieldProto, fieldPort}
	first, last, err := encodeRanges(fields, []string{"10.42.1.2", "10.42.2.2/31", "tcp", "81-65535"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{10, 42, 1, 2, 10, 42, 2, 2, 6, 0, 0, 0, 0, 81, 0, 0}; !bytes.Equal(first, want) {
		t.Errorf("first: got % x, want % x", first, want)
	}
	if want := []byte{10, 42, 1, 2, 10, 42, 2, 3, 6, 0, 0, 0, 0xff, 0xff, 0, 0}; !bytes.Equal(last, want) {
		t.Errorf("last: got % x, want % x", last, want)
	}
	first, last, err = encodeRanges([]field{fieldIPv6}, []string{"2001:cafe:42::-2001:cafe:42::ff"})
	if err != nil || len(first) != 16 || last[15] != 0xff || !bytes.Equal(after(last)[14:], []byte{1, 0}) {
		t.Errorf("an IPv6 range: % x - % x, %v", first, last, err)
	}
	if after([]byte{255, 255, 255, 255}) != nil {
		t.Error("the last address has a key after it")
	}
	for _, bad := range [][]string{{"10.42.1.2", "10.42.2.3-10.42.2.2", "tcp", "80"}, {"10.42.1.2", "2001::/64", "tcp", "80"},
		{"10.42.1.2", "10.42.2.2", "tcp", "90-80"}, {"10.42.1.2", "10.42.2.2", "tcp-udp", "80"}, {"10.42.1.2/33", "10.42.2.2", "tcp", "80"}} {
		if _, _, err := encodeRanges(fields, bad); err == nil {
			t.Errorf("%v encoded without an error", bad)
		}
	}
	if v, err := encodeVerdict([]string{"return"}); err != nil || v.Kind != expr.VerdictReturn {
		t.Errorf("return: %+v, %v", v, err)
	}
}

func isBigEndian() bool { return binary.NativeEndian.Uint16([]byte{0, 1}) == 1 }

// FuzzEncodeFields: any element text either encodes to the layout's length or is refused, and
// any type text either parses to a layout or is left to nft; nothing panics.
func FuzzEncodeFields(f *testing.F) {
	f.Add("10.43.0.10 . tcp . 80")
	f.Add("2001:cafe:43::10 . udp . 53")
	f.Add("10.43.0.10 . sctp . 65536")
	f.Add("10.42.0.0/16 . udp . 0-79")
	f.Add("10.42.0.0-10.42.2.1 . tcp . 80-80")
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
		first, last, err := encodeRanges(fields, strings.Split(text, " . "))
		if err == nil && (len(first) != 12 || len(last) != 12 || bytes.Compare(first, last) > 0) {
			t.Errorf("%q encoded to the range % x - % x", text, first, last)
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
