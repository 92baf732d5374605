package nft

import (
	"testing"

	"github.com/google/nftables"
)

// FuzzKernelBytes: what the kernel hands back (a rule's user data, a map element's verdict
// attributes) is read without a panic, whatever the bytes.
func FuzzKernelBytes(f *testing.F) {
	f.Add([]byte("\x00\x17to the service's chain\x00"))
	f.Add([]byte("\x08\x00\x01\x00\xff\xff\xff\xfc\x0c\x00\x02\x00svc-web\x00"))
	f.Add([]byte{0x04, 0x00})
	f.Add([]byte{0x00, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = ruleComment(b)
		_, _, _ = verdictAttributes(b)
		_ = elementValue(nftables.SetElement{Val: b})
	})
}

func TestVerdictAttributes(t *testing.T) {
	code, chain, ok := verdictAttributes([]byte("\x08\x00\x01\x00\xff\xff\xff\xfc\x0c\x00\x02\x00svc-web\x00"))
	if !ok || code != -4 || chain != "svc-web" {
		t.Errorf("got %d %q %v, want goto (-4) svc-web", code, chain, ok)
	}
	if _, _, ok := verdictAttributes([]byte{10, 42, 1, 5, 0x1f, 0x90, 0, 0}); ok {
		t.Error("an address and port read as a verdict")
	}
}
