package hoststate

import (
	"strings"
	"testing"
)

// Samples below are real iproute2 6.1 output, captured in a scratch network
// namespace 3 s apart, with the ticking values as they were.
const (
	bridgeT0 = `2: br0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default qlen 1000\    link/ether 1e:b2:65:52:4c:b9 brd ff:ff:ff:ff:ff:ff promiscuity 0  allmulti 0 minmtu 68 maxmtu 65535 \    bridge forward_delay 1500 hello_time 200 max_age 2000 ageing_time 30000 stp_state 0 priority 32768 vlan_filtering 0 bridge_id 8000.1e:b2:65:52:4c:b9 designated_root 8000.1e:b2:65:52:4c:b9 root_port 0 root_path_cost 0 topology_change 0 topology_change_detected 0 hello_timer    0.00 tcn_timer    0.00 topology_change_timer    0.00 gc_timer  299.80 group_fwd_mask 0 addrgenmode eui64 numtxqueues 1 numrxqueues 1 gso_max_size 65536
4: v0@v1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue master br0 state UP mode DEFAULT group default qlen 1000\    link/ether 1e:b2:65:52:4c:b9 brd ff:ff:ff:ff:ff:ff promiscuity 1  allmulti 1 minmtu 68 maxmtu 65535 \    veth \    bridge_slave state forwarding priority 32 cost 2 hold_timer    0.00 message_age_timer    0.00 forward_delay_timer   14.79 topology_change_ack 0 config_pending 0
`
	bridgeT3 = `2: br0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default qlen 1000\    link/ether 1e:b2:65:52:4c:b9 brd ff:ff:ff:ff:ff:ff promiscuity 0  allmulti 0 minmtu 68 maxmtu 65535 \    bridge forward_delay 1500 hello_time 200 max_age 2000 ageing_time 30000 stp_state 0 priority 32768 vlan_filtering 0 bridge_id 8000.1e:b2:65:52:4c:b9 designated_root 8000.1e:b2:65:52:4c:b9 root_port 0 root_path_cost 0 topology_change 0 topology_change_detected 0 hello_timer    0.00 tcn_timer    0.00 topology_change_timer    0.00 gc_timer  296.58 group_fwd_mask 0 addrgenmode eui64 numtxqueues 1 numrxqueues 1 gso_max_size 65536
4: v0@v1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue master br0 state UP mode DEFAULT group default qlen 1000\    link/ether 1e:b2:65:52:4c:b9 brd ff:ff:ff:ff:ff:ff promiscuity 1  allmulti 1 minmtu 68 maxmtu 65535 \    veth \    bridge_slave state forwarding priority 32 cost 2 hold_timer    0.00 message_age_timer    0.00 forward_delay_timer   11.57 topology_change_ack 0 config_pending 0
`
	addrsT0 = `1: lo    inet 127.0.0.1/8 scope host lo\       valid_lft forever preferred_lft forever
2: br0    inet6 2001:db8::1/64 scope global dynamic \       valid_lft 300sec preferred_lft 200sec
`
	addrsT3 = `1: lo    inet 127.0.0.1/8 scope host lo\       valid_lft forever preferred_lft forever
2: br0    inet6 2001:db8::1/64 scope global dynamic \       valid_lft 297sec preferred_lft 197sec
`
	routes6T0 = `2001:db8::/64 dev br0 proto kernel metric 256 expires 299sec pref medium
2001:db8:1::/64 dev br0 metric 1024 expires 99sec pref medium
fe80::/64 dev br0 proto kernel metric 256 pref medium
`
	routes6T3 = `2001:db8::/64 dev br0 proto kernel metric 256 expires 296sec pref medium
2001:db8:1::/64 dev br0 metric 1024 expires 96sec pref medium
fe80::/64 dev br0 proto kernel metric 256 pref medium
`
)

// normalizerCase states that two raw outputs normalize equal (same) or not.
type normalizerCase struct {
	name string
	a, b string
	same bool
}

func runNormalizerCases(t *testing.T, normalize func(string) string, cases []normalizerCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			na, nb := normalize(tc.a), normalize(tc.b)
			if (na == nb) != tc.same {
				t.Errorf("normalized equal = %v, want %v\n a: %q\n b: %q", na == nb, tc.same, na, nb)
			}
		})
	}
}

func TestNormalizeLinks(t *testing.T) {
	runNormalizerCases(t, normalizeLinks, []normalizerCase{
		{name: "bridge timers tick", a: bridgeT0, b: bridgeT3, same: true},
		{name: "mtu change", a: bridgeT0, b: strings.Replace(bridgeT0, "mtu 1500", "mtu 1400", 1), same: false},
		{name: "master change", a: bridgeT0, b: strings.Replace(bridgeT0, "master br0", "master br1", 1), same: false},
		{name: "qlen change", a: bridgeT0, b: strings.Replace(bridgeT0, "qlen 1000", "qlen 500", 1), same: false},
		{name: "link removed", a: bridgeT0, b: strings.SplitAfter(bridgeT0, "\n")[0], same: false},
		{name: "bridge stp state", a: bridgeT0, b: strings.Replace(bridgeT0, "stp_state 0", "stp_state 1", 1), same: false},
	})
	got := normalizeLinks(bridgeT0)
	for _, want := range []string{"gc_timer _ ", "forward_delay_timer _ ", "mtu 1500 ", "master br0 ", "link/ether 1e:b2:65:52:4c:b9 "} {
		if !strings.Contains(got, want) {
			t.Errorf("normalizeLinks output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, `\`) || strings.Contains(got, "  ") {
		t.Errorf("oneline separators or double spaces left in %q", got)
	}
}

func TestNormalizeAddresses(t *testing.T) {
	runNormalizerCases(t, normalizeAddresses, []normalizerCase{
		{name: "lifetimes tick", a: addrsT0, b: addrsT3, same: true},
		{name: "address changed", a: addrsT0, b: strings.Replace(addrsT0, "2001:db8::1/64", "2001:db8::2/64", 1), same: false},
		{name: "permanent became expiring", a: addrsT0, b: strings.Replace(addrsT0, "valid_lft forever", "valid_lft 100sec", 1), same: false},
		{name: "address added", a: addrsT0, b: addrsT0 + "4: eth0    inet 192.0.2.2/24 brd 192.0.2.255 scope global eth0\\       valid_lft forever preferred_lft forever\n", same: false},
	})
	want := "2: br0 inet6 2001:db8::1/64 scope global dynamic valid_lft _ preferred_lft _\n"
	if got := normalizeAddresses(addrsT0); !strings.HasSuffix(got, want) {
		t.Errorf("normalizeAddresses = %q, want suffix %q", got, want)
	}
}

func TestNormalizeRoutes(t *testing.T) {
	inet6 := func(s string) string { return normalizeRoutes(familyInet6, s) }
	runNormalizerCases(t, inet6, []normalizerCase{
		{name: "expires ticks", a: routes6T0, b: routes6T3, same: true},
		{name: "metric change", a: routes6T0, b: strings.Replace(routes6T0, "metric 1024", "metric 1025", 1), same: false},
		{name: "route added", a: routes6T0, b: routes6T0 + "2001:db8:2::/64 dev br0 metric 1024 pref medium\n", same: false},
		{name: "expiring became permanent", a: routes6T0, b: strings.Replace(routes6T0, " expires 99sec", "", 1), same: false},
		{
			name: "cached entries ignored",
			a:    "default via 192.0.2.1 dev eth0\n",
			b:    "default via 192.0.2.1 dev eth0\n198.51.100.7 via 192.0.2.1 dev eth0 \\    cache expires 589sec mtu 1300\n",
			same: true,
		},
		{
			name: "device named cache is not a cache entry",
			a:    "default via 192.0.2.1 dev eth0\n",
			b:    "default via 192.0.2.1 dev eth0\n10.0.0.0/8 dev cache scope link\n",
			same: false,
		},
	})
	if got, want := normalizeRoutes(familyInet6, routes6T0), "inet6 2001:db8::/64 dev br0 proto kernel metric 256 expires _ pref medium\n"; !strings.HasPrefix(got, want) {
		t.Errorf("normalizeRoutes = %q, want prefix %q", got, want)
	}
}

func TestNormalizeRules(t *testing.T) {
	got := normalizeRules(familyInet, "0:\tfrom all lookup local\n32766:\tfrom all lookup main\n")
	want := "inet 0: from all lookup local\ninet 32766: from all lookup main\n"
	if got != want {
		t.Errorf("normalizeRules = %q, want %q", got, want)
	}
}
