package e2e

import (
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/weftnet/weft/test/hoststate"
)

// TestLabUpRefusesBadInput: each mistake gets an error that names the problem and the fix, and
// leaves nothing behind.
func TestLabUpRefusesBadInput(t *testing.T) {
	bin := weftBin(t)
	before, err := hoststate.Take()
	if err != nil {
		t.Fatal(err)
	}
	l := &lab{t: t, bin: bin, name: "e2e-bad"}

	busy, err := net.Listen("tcp", "127.0.0.1:16444")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()

	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"flags", []string{"--nodes", "0", "--cluster-cidr", "10.42.0.1/16"}, []string{"--nodes 0", "did you mean 10.42.0.0/16"}},
		{"overlap", []string{"--service-cidr", "10.42.0.0/24"}, []string{"overlaps"}},
		{"too many nodes for the range", []string{"--nodes", "5", "--cluster-cidr", "10.42.0.0/22"}, []string{"holds only 4 node ranges"}},
		{"unknown flag", []string{"--flannel-backend", "vxlan"}, []string{"unknown flag: --flannel-backend"}},
		{"unknown backend", []string{"--backend", "nope"}, []string{`--backend "nope"`, "vxlan, host-gw, wireguard, none"}},
		{"unknown proxy", []string{"--proxy", "ipvs"}, []string{`--proxy "ipvs"`, "weft, kube-proxy-nftables, kube-proxy-iptables"}},
		{"unknown policy", []string{"--policy", "calico"}, []string{`--policy "calico"`, "weft, none, kube-network-policies"}},
		{"mtu beyond the LAN", []string{"--mtu", "9000"}, []string{"--mtu 9000", "1280", "1500"}},
		{"port in use", []string{"--https-listen-port", "16444"}, []string{"--https-listen-port 16444", "in use"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := l.weftErr(append(append([]string{"lab", "up"}, l.labFlags()...), tc.args...)...)
			if err == nil {
				t.Fatalf("lab up %v succeeded:\n%s", tc.args, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("error lacks %q:\n%s", w, out)
				}
			}
			if _, err := os.Stat(dataDir + "/labs/" + l.name); !os.IsNotExist(err) {
				t.Errorf("a failed up left its state directory (stat: %v)", err)
			}
		})
	}

	t.Run("not root", func(t *testing.T) {
		cmd := exec.Command(bin, "lab", "up", "--name", "e2e-bad", "--data-dir", t.TempDir())
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "needs root") || !strings.Contains(string(out), "sudo") {
			t.Errorf("lab up as nobody: %v\n%s", err, out)
		}
	})

	t.Run("down without a lab", func(t *testing.T) {
		if out := l.weft(append([]string{"lab", "down"}, l.labFlags()...)...); !strings.Contains(out, "nothing to do") {
			t.Errorf("lab down of no lab said: %s", out)
		}
	})

	time.Sleep(100 * time.Millisecond)
	after, err := hoststate.Take()
	if err != nil {
		t.Fatal(err)
	}
	if diff := hoststate.Diff(before, after); diff != "" {
		t.Errorf("failed ups changed the host:\n%s", diff)
	}
}
