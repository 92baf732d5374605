package agent

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// completed parses args as the agent command does: flags, then Complete, then Validate.
func completed(t *testing.T, env map[string]string, args ...string) (Options, error) {
	t.Helper()
	o := Defaults()
	fs := pflag.NewFlagSet("agent", pflag.ContinueOnError)
	o.AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	err := errors.Join(o.Complete(func(k string) string { return env[k] }), o.Validate())
	return o, err
}

func TestOptionsParsedOnce(t *testing.T) {
	o, err := completed(t, map[string]string{"NODE_NAME": "node-7"},
		"--cluster-cidr=10.42.0.0/16,2001:cafe:42::/56", "--service-cidr=10.43.0.0/16", "--lb-pool=192.168.1.224/28",
		"--no-masquerade-cidr=192.168.2.0/24", "--node-external-ip=203.0.113.7")
	if err != nil {
		t.Fatal(err)
	}
	if o.NodeName != "node-7" {
		t.Errorf("node name %q, want node-7 from $NODE_NAME", o.NodeName)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.42.0.0/16"), netip.MustParsePrefix("2001:cafe:42::/56")}
	if !slices.Equal(o.ClusterCIDRs, want) || len(o.ServiceCIDRs) != 1 || len(o.LBPools) != 1 || len(o.NoMasqueradeCIDRs) != 1 {
		t.Errorf("ranges %v %v %v %v", o.ClusterCIDRs, o.ServiceCIDRs, o.LBPools, o.NoMasqueradeCIDRs)
	}
	if len(o.NodeExternalIPs) != 1 || o.NodeExternalIPs[0] != netip.MustParseAddr("203.0.113.7") {
		t.Errorf("external IPs %v", o.NodeExternalIPs)
	}
}

func TestOptionsNameEveryBadFlag(t *testing.T) {
	_, err := completed(t, nil, "--node-name=n", "--cluster-cidr=10.42.0.1/16", "--service-cidr=nope", "--lb-pool=1.2.3.4/33",
		"--node-external-ip=1.2.3.4,5.6.7.8")
	if err == nil {
		t.Fatal("bad ranges accepted")
	}
	for _, w := range []string{"--cluster-cidr", "did you mean 10.42.0.0/16", "--service-cidr", "--lb-pool", "--node-external-ip", "one address per family"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
}

func TestWireGuardOptions(t *testing.T) {
	o, err := completed(t, nil, "--node-name=n", "--backend=wireguard")
	if err != nil || o.WireGuardPort != 51820 || o.WireGuardKeyRotation != 0 || o.StateDir != "/var/lib/weft" {
		t.Fatalf("defaults: port %d, rotation %s, state %q, %v", o.WireGuardPort, o.WireGuardKeyRotation, o.StateDir, err)
	}
	_, err = completed(t, nil, "--node-name=n", "--backend=wireguard", "--wireguard-port=0", "--wireguard-key-rotation=1s", "--state-dir=rel")
	for _, w := range []string{"--wireguard-port 0", "--wireguard-key-rotation 1s", "--state-dir \"rel\""} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v lacks %q", err, w)
		}
	}
}
