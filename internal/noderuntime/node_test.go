package noderuntime

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// The Node offers ephemeral storage, or the scheduler places no pod that asks for some.
func TestCapacityOffersEphemeralStorage(t *testing.T) {
	f := hostFacts{cpus: 2, memoryBytes: 1 << 30, storageBytes: fsSize("/")}
	if f.storageBytes <= 0 {
		t.Fatalf("the size of / reads as %d", f.storageBytes)
	}
	got := f.capacity()[corev1.ResourceEphemeralStorage]
	if got.Value() != f.storageBytes {
		t.Errorf("ephemeral-storage capacity %s, want %d bytes", got.String(), f.storageBytes)
	}
	if fsSize("/does/not/exist") != 0 {
		t.Error("a missing directory must read as 0")
	}
}
