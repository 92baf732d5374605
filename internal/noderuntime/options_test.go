package noderuntime

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOptionsNodeName(t *testing.T) {
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, flag, hostname, nodeIP string
		labels                       map[string]string
		wantName                     string
		wantErr                      []string
	}{
		{name: "host name", hostname: "Worker-1", nodeIP: "192.168.1.11", wantName: "worker-1"},
		{name: "flag wins", flag: "node-1", hostname: "localhost", nodeIP: "192.168.1.11", wantName: "node-1"},
		{name: "hostname localhost, shared by every machine", hostname: "localhost", nodeIP: "192.168.1.11", wantErr: []string{"same on every machine", "--node-name"}},
		{name: "invalid name", hostname: "my_host", nodeIP: "192.168.1.11", wantErr: []string{"not a valid Node name", "--node-name"}},
		{name: "dual-stack", flag: "n", nodeIP: "192.168.1.11,fd00:c0a8:1::11", wantName: "n"},
		{name: "two IPv4", flag: "n", nodeIP: "192.168.1.11,192.168.1.12", wantErr: []string{"one IPv4 and one IPv6"}},
		{name: "not an IP", flag: "n", nodeIP: "node-1", wantErr: []string{`--node-ip "node-1"`}},
		{name: "no IP", flag: "n", wantErr: []string{"--node-ip"}},
		{name: "zone label", flag: "n", nodeIP: "192.168.1.11", labels: map[string]string{"topology.kubernetes.io/zone": "zone-a"}, wantName: "n"},
		{name: "bad label key", flag: "n", nodeIP: "192.168.1.11", labels: map[string]string{"a b": "c"}, wantErr: []string{"--node-labels a b=c"}},
		{name: "bad label value", flag: "n", nodeIP: "192.168.1.11", labels: map[string]string{"zone": "a/b"}, wantErr: []string{"--node-labels zone=a/b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := Defaults()
			o.NodeName, o.nodeIPText, o.Kubeconfig, o.NodeLabels = tc.flag, tc.nodeIP, kubeconfig, tc.labels
			err := errors.Join(o.Complete(func() (string, error) { return tc.hostname, nil }), o.Validate())
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if o.NodeName != tc.wantName {
					t.Errorf("node name %q, want %q", o.NodeName, tc.wantName)
				}
				return
			}
			if err == nil {
				t.Fatalf("want an error mentioning %v", tc.wantErr)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func FuzzNodeIP(f *testing.F) {
	for _, s := range []string{"192.168.1.11", "192.168.1.11,fd00:c0a8:1::11", ",,", "::ffff:1.2.3.4", "a,b,c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		o := Defaults()
		o.NodeName, o.nodeIPText = "n", text
		if o.Complete(os.Hostname) != nil {
			return
		}
		for _, ip := range o.NodeIPs {
			if !ip.IsValid() {
				t.Fatalf("accepted an invalid address from %q", text)
			}
		}
	})
}
