package lab

import (
	"strings"
	"testing"
)

func completed(t *testing.T, args ...string) (Options, error) {
	t.Helper()
	o := Defaults()
	fs := newFlagSet()
	o.AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	if err := o.Complete(); err != nil {
		return o, err
	}
	return o, o.Validate()
}

func TestOptionsAccept(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		wantDNS string
	}{
		{"defaults", nil, "10.43.0.10"},
		{"dual-stack", []string{"--cluster-cidr=10.42.0.0/16,2001:cafe:42::/56", "--service-cidr=10.43.0.0/16,2001:cafe:43::/112"}, "10.43.0.10"},
		{"dual-stack IPv6 first", []string{"--cluster-cidr=2001:cafe:42::/56,10.42.0.0/16", "--service-cidr=2001:cafe:43::/112,10.43.0.0/16"}, "2001:cafe:43::a"},
		{"IPv6 only", []string{"--cluster-cidr=2001:cafe:42::/56", "--service-cidr=2001:cafe:43::/112"}, "2001:cafe:43::a"},
		{"explicit DNS", []string{"--cluster-dns=10.43.0.53"}, "10.43.0.53"},
		{"one node", []string{"--nodes=1", "--name=a-b"}, "10.43.0.10"},
		{"wireguard with periodic rotation", []string{"--backend=wireguard", "--wireguard-key-rotation=1m"}, "10.43.0.10"},
		{"agents from the DaemonSet", []string{"--agent=daemonset"}, "10.43.0.10"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := completed(t, tc.args...)
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if got := o.ClusterDNS.String(); got != tc.wantDNS {
				t.Errorf("cluster DNS = %s, want %s", got, tc.wantDNS)
			}
		})
	}
}

func TestOptionsReject(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want []string // every fragment must appear in the error
	}{
		{"not a CIDR", []string{"--cluster-cidr=10.42.0.0"}, []string{"--cluster-cidr", "not a CIDR"}},
		{"host bits", []string{"--cluster-cidr=10.42.0.1/16"}, []string{"did you mean 10.42.0.0/16"}},
		{"overlap", []string{"--cluster-cidr=10.42.0.0/16", "--service-cidr=10.42.128.0/20"}, []string{"overlaps --service-cidr"}},
		{"overlaps the LAN", []string{"--cluster-cidr=192.168.0.0/16"}, []string{"the lab LAN"}},
		{"too small for node masks", []string{"--cluster-cidr=10.42.0.0/25"}, []string{"too small", "--node-cidr-mask-size-ipv4"}},
		{"more nodes than ranges", []string{"--cluster-cidr=10.42.0.0/23", "--nodes=3"}, []string{"--nodes 3", "holds only 2 node ranges"}},
		{"too many nodes", []string{"--nodes=500"}, []string{"--nodes 500"}},
		{"zero nodes", []string{"--nodes=0"}, []string{"--nodes 0"}},
		{"families differ", []string{"--cluster-cidr=10.42.0.0/16,2001:cafe:42::/56"}, []string{"different address families"}},
		{"two of one family", []string{"--cluster-cidr=10.42.0.0/16,10.44.0.0/16", "--service-cidr=10.43.0.0/16,10.45.0.0/16"}, []string{"same family"}},
		{"service range too small", []string{"--service-cidr=10.43.0.0/30", "--cluster-dns=10.43.0.2"}, []string{"--service-cidr 10.43.0.0/30 is too small"}},
		{"service range too large", []string{"--service-cidr=10.0.0.0/8", "--cluster-cidr=172.16.0.0/16"}, []string{"too large"}},
		{"IPv6 node mask difference", []string{"--cluster-cidr=2001:cafe::/32", "--service-cidr=2001:cafe:43::/112"}, []string{"at most 2^16"}},
		{"dns outside", []string{"--cluster-dns=10.44.0.10"}, []string{"--cluster-dns 10.44.0.10 is outside"}},
		{"dns is the kubernetes service", []string{"--cluster-dns=10.43.0.1"}, []string{"kubernetes service"}},
		{"bad name", []string{"--name=Lab_1"}, []string{"--name"}},
		{"bad port", []string{"--https-listen-port=70000"}, []string{"--https-listen-port 70000"}},
		{"relative data dir", []string{"--data-dir=tmp"}, []string{"--data-dir"}},
		{"bad kubeconfig mode", []string{"--write-kubeconfig-mode=rw"}, []string{"--write-kubeconfig-mode"}},
		{"more zones than nodes", []string{"--nodes=2", "--zones=3"}, []string{"--zones 3", "number of nodes (2)"}},
		{"negative zones", []string{"--zones=-1"}, []string{"--zones -1"}},
		{"rotation without wireguard", []string{"--wireguard-key-rotation=1m"}, []string{"--wireguard-key-rotation 1m0s", "with --backend wireguard"}},
		{"rotation too often", []string{"--backend=wireguard", "--wireguard-key-rotation=1s"}, []string{"--wireguard-key-rotation 1s", "10s or more"}},
		{"unknown agent mode", []string{"--agent=pod"}, []string{`--agent "pod"`, "process, daemonset"}},
		{"unknown proxy", []string{"--proxy=ipvs"}, []string{`--proxy "ipvs"`, "weft, kube-proxy-nftables, kube-proxy-iptables"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := completed(t, tc.args...)
			if err == nil {
				t.Fatalf("want an error mentioning %q, got none", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestOptionsReportEveryProblem(t *testing.T) {
	_, err := completed(t, "--nodes=0", "--name=BAD", "--cluster-dns=10.99.0.1")
	if err == nil {
		t.Fatal("want errors")
	}
	for _, w := range []string{"--nodes", "--name", "--cluster-dns"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q misses the problem with %s", err, w)
		}
	}
}
