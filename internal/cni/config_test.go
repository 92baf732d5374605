package cni

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/types"
)

func TestParseDefaultsAndFields(t *testing.T) {
	c, err := Parse([]byte(`{"cniVersion":"1.1.0","name":"weft","type":"weft-cni",
		"bridge":"br-pods","mtu":1450,"hairpinMode":false,
		"podCIDRs":["2001:cafe:42::/64","10.42.0.0/24"],"dataDir":"/run/weft/../weft-ipam",
		"dns":{"nameservers":["10.43.0.10"],"search":["cluster.local"]},
		"capabilities":{"portMappings":true},"runtimeConfig":{"portMappings":[]},"args":{"cni":{}},
		"cni.dev/valid-attachments":[{"containerID":"c1","ifname":"eth0"}],"cni.dev/future":1}`))
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("2001:cafe:42::/64"), netip.MustParsePrefix("10.42.0.0/24")}
	if c.Bridge != "br-pods" || c.MTU != 1450 || c.HairpinMode || !slices.Equal(c.PodCIDRs, want) ||
		c.DataDir != "/run/weft-ipam" || c.DNS.Nameservers[0] != "10.43.0.10" || len(c.ValidAttachments) != 1 {
		t.Fatalf("parsed %+v", c)
	}

	d, err := Parse([]byte(`{"cniVersion":"1.1.0","name":"weft","type":"weft-cni"}`))
	if err != nil {
		t.Fatal(err)
	}
	if d.Bridge != DefaultBridge || d.MTU != DefaultMTU || !d.HairpinMode || d.DataDir != DefaultDataDir || d.Ready() {
		t.Fatalf("defaults %+v", d)
	}
}

func TestParseErrors(t *testing.T) {
	base := `"cniVersion":"1.1.0","name":"weft","type":"weft-cni"`
	tests := []struct {
		name string
		conf string
		want []string // each must be in the message
	}{
		{"unknown field", `{` + base + `,"bridgeName":"x"}`, []string{`unknown field "bridgeName"`, "remove it"}},
		{"misspelt field", `{` + base + `,"podCidrs":[]}`, []string{`did you mean "podCIDRs"`}},
		{"singular field", `{` + base + `,"podCIDR":"10.0.0.0/24"}`, []string{`did you mean "podCIDRs"`}},
		{"ipam refused", `{` + base + `,"ipam":{"type":"host-local"}}`, []string{`"ipam"`, "podCIDRs"}},
		{"ipMasq refused", `{` + base + `,"ipMasq":true}`, []string{`"ipMasq"`}},
		{"missing name", `{"cniVersion":"1.1.0","type":"weft-cni"}`, []string{`"name": missing`}},
		{"bad name", `{"cniVersion":"1.1.0","name":"we ft"}`, []string{`"name"`, "letter or digit"}},
		{"bridge too long", `{` + base + `,"bridge":"a-very-long-bridge"}`, []string{`"bridge"`, "15 bytes"}},
		{"bridge with slash", `{` + base + `,"bridge":"a/b"}`, []string{`"bridge"`}},
		{"mtu string", `{` + base + `,"mtu":"1500"}`, []string{`"mtu"`, "got a JSON string, want a whole number"}},
		{"mtu fraction", `{` + base + `,"mtu":1500.5}`, []string{`"mtu"`}},
		{"mtu too small", `{` + base + `,"mtu":10}`, []string{`"mtu"`, "68 to 65535"}},
		{"mtu too small for IPv6", `{` + base + `,"mtu":1000,"podCIDRs":["2001:db8::/64"]}`, []string{`"mtu"`, "1280"}},
		{"hairpin string", `{` + base + `,"hairpinMode":"yes"}`, []string{`"hairpinMode"`, "true or false"}},
		{"podCIDRs string", `{` + base + `,"podCIDRs":"10.42.0.0/24"}`, []string{`"podCIDRs"`, "a list"}},
		{"podCIDR not a CIDR", `{` + base + `,"podCIDRs":["10.42.0.0"]}`, []string{`"podCIDRs"`, "[0]", "not a CIDR"}},
		{"podCIDR host bits", `{` + base + `,"podCIDRs":["10.42.0.7/24"]}`, []string{"use 10.42.0.0/24"}},
		{"podCIDR too small", `{` + base + `,"podCIDRs":["10.42.0.0/31"]}`, []string{"/30 or larger"}},
		{"podCIDR v6 too small", `{` + base + `,"podCIDRs":["2001:db8::/127"]}`, []string{"/126 or larger"}},
		{"podCIDR mapped", `{` + base + `,"podCIDRs":["::ffff:10.0.0.0/120"]}`, []string{"write it as IPv4"}},
		{"two of a family", `{` + base + `,"podCIDRs":["10.42.0.0/24","10.43.0.0/24"]}`, []string{"[1]", "one range per family"}},
		{"three ranges", `{` + base + `,"podCIDRs":["10.42.0.0/24","2001:db8::/64","10.1.0.0/24"]}`, []string{"at most two"}},
		{"relative dataDir", `{` + base + `,"dataDir":"var/lib"}`, []string{`"dataDir"`, "absolute"}},
		{"bad nameserver", `{` + base + `,"dns":{"nameservers":["dns.example"]}}`, []string{`"dns"`, "not an IP"}},
		{"unknown dns key", `{` + base + `,"dns":{"server":"1.1.1.1"}}`, []string{`"dns"`, "server"}},
		{"bad attachments", `{` + base + `,"cni.dev/valid-attachments":{}}`, []string{"valid-attachments"}},
		{"bad prevResult", `{` + base + `,"prevResult":{"ips":"x"}}`, []string{`"prevResult"`}},
		{"every error at once", `{` + base + `,"mtu":-1,"bridge":"","extra":1}`, []string{`"mtu"`, `"bridge"`, `"extra"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.conf))
			var e *types.Error
			if !errors.As(err, &e) || e.Code != types.ErrInvalidNetworkConfig {
				t.Fatalf("Parse = %v, want a CNI error with code 7", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(e.Msg, w) {
					t.Errorf("message %q lacks %q", e.Msg, w)
				}
			}
		})
	}
}

func TestParseNotJSON(t *testing.T) {
	for _, in := range []string{``, `null`, `[]`, `{`, `"x"`} {
		_, err := Parse([]byte(in))
		var e *types.Error
		if !errors.As(err, &e) || e.Code != types.ErrDecodingFailure {
			t.Errorf("Parse(%q) = %v, want code 6", in, err)
		}
	}
}

func TestParseEmptyPodCIDRsIsNotReady(t *testing.T) {
	for _, v := range []string{`[]`, `null`} {
		c, err := Parse([]byte(`{"cniVersion":"1.1.0","name":"weft","podCIDRs":` + v + `}`))
		if err != nil || c.Ready() {
			t.Errorf("podCIDRs %s: %v, ready %v", v, err, c != nil && c.Ready())
		}
	}
}

// FuzzParse checks that any input gives either a valid config or a CNI error with a
// configuration code, and that a valid config survives being written back out.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"cniVersion":"1.1.0","name":"weft","type":"weft-cni","bridge":"weft0","mtu":1500,"hairpinMode":true,"podCIDRs":["10.42.0.0/24","2001:cafe:42::/64"],"dataDir":"/var/lib/cni/weft"}`,
		`{"cniVersion":"1.0.0","name":"n","podCIDRs":["2001:db8::/126"],"mtu":1280}`,
		`{"cniVersion":"0.4.0","name":"n","prevResult":{"cniVersion":"0.4.0","interfaces":[{"name":"eth0","sandbox":"/x"}],"ips":[{"version":"4","address":"10.0.0.2/24","interface":0}]}}`,
		`{"cniVersion":"1.1.0","name":"n","cni.dev/valid-attachments":[{"containerID":"a","ifname":"eth0"}]}`,
		`{"name":"n","podCIDRs":["10.0.0.1/24"]}`,
		`{"name":"n","mtu":1e3}`,
		`{"name":"n","dns":{"nameservers":["::1"]},"PODCIDRS":[]}`,
		`[1,2]`,
		`{"name":"n","podCIDRs":["::ffff:1.2.3.0/120", "fe80::%eth0/64"]}`,
		`{"name":"n","capabilities":{"portMappings":true},"runtimeConfig":{"portMappings":[{"hostPort":54323,"containerPort":8080,"protocol":"udp","hostIP":"::ffff:1.2.3.4"},{"hostPort":0,"containerPort":1,"protocol":"SCTP","hostIP":"fe80::1%eth0"}],"bandwidth":{}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			var e *types.Error
			if !errors.As(err, &e) || (e.Code != types.ErrInvalidNetworkConfig && e.Code != types.ErrDecodingFailure) || e.Msg == "" {
				t.Fatalf("Parse(%q) = %#v, want a CNI error with code 6 or 7", data, err)
			}
			return
		}
		if len(c.PodCIDRs) > 2 || c.MTU < 68 || c.Bridge == "" || c.DataDir == "" {
			t.Fatalf("Parse(%q) accepted %+v", data, c)
		}
		again, err := Parse(reencode(c))
		if err != nil {
			t.Fatalf("re-parsing %+v: %v", c, err)
		}
		if fmt.Sprint(again.PodCIDRs, again.MTU, again.Bridge, again.HairpinMode, again.DataDir, again.Name) !=
			fmt.Sprint(c.PodCIDRs, c.MTU, c.Bridge, c.HairpinMode, c.DataDir, c.Name) {
			t.Fatalf("round trip changed %+v into %+v", c, again)
		}
	})
}

func reencode(c *Config) []byte {
	cidrs := make([]string, len(c.PodCIDRs))
	for i, p := range c.PodCIDRs {
		cidrs[i] = p.String()
	}
	b, _ := json.Marshal(map[string]any{"cniVersion": c.CNIVersion, "name": c.Name, "bridge": c.Bridge, "mtu": c.MTU,
		"hairpinMode": c.HairpinMode, "podCIDRs": cidrs, "dataDir": c.DataDir})
	return b
}
