package trace

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeNode serves `nft list table` texts saved in testdata: what nftables 1.0.6 printed for
// the service proxy's scenario table (internal/proxy's scenarioServices), the egress
// masquerade and an EgressRoute, loaded in a scratch network namespace.
type fakeNode struct {
	tables map[string]string // "inet weft-proxy": its text
	addrs  []netip.Addr
}

func (f fakeNode) Tables(context.Context) ([]string, error) {
	var out []string
	for t := range f.tables {
		out = append(out, t)
	}
	return out, nil
}

func (f fakeNode) Table(_ context.Context, family, name string) (string, error) {
	if text, ok := f.tables[family+" "+name]; ok {
		return text, nil
	}
	return "", fmt.Errorf("nft list table %s %s: No such file or directory", family, name)
}

func (f fakeNode) Addrs(context.Context) ([]netip.Addr, error) { return f.addrs, nil }

// node1 is node-1 of a dual-stack lab: 192.168.1.11, fd00:c0a8:1::11, with pods on 10.42.1.0/24.
func node1(t *testing.T, files ...string) fakeNode {
	t.Helper()
	n := fakeNode{tables: map[string]string{}, addrs: addrs("127.0.0.1", "::1", "192.168.1.11", "fd00:c0a8:1::11", "10.42.1.1", "fe80::1")}
	for _, f := range files {
		text, err := os.ReadFile(filepath.Join("testdata", f+".nft"))
		if err != nil {
			t.Fatal(err)
		}
		n.tables["inet "+f] = string(text)
	}
	return n
}

func addrs(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

func run(t *testing.T, n Node, o Options) ([]Outcome, string) {
	t.Helper()
	var b bytes.Buffer
	outs, err := Run(context.Background(), o, n, &b)
	if err != nil {
		t.Fatalf("Run %+v: %v", o, err)
	}
	return outs, b.String()
}

func TestOutcomes(t *testing.T) {
	n := node1(t, "weft-proxy", "weft-egress")
	for _, tc := range []struct {
		name string
		o    Options
		// want is each outcome's last line, in the order of the random choices.
		want []string
	}{
		{"pod to a ClusterIP", Options{From: "10.42.1.9", To: "10.43.0.10:80", Proto: "tcp"}, []string{
			"accepted: DNAT to endpoint 10.42.1.5:8080, source kept, forwarded",
			"accepted: DNAT to endpoint 10.42.2.5:8080, source kept, forwarded"}},
		{"the node to a ClusterIP", Options{FromNode: true, To: "10.43.0.10:80", Proto: "tcp"}, []string{
			"accepted: DNAT to endpoint 10.42.1.5:8080, masqueraded (the destination sees this node's address), sent out",
			"accepted: DNAT to endpoint 10.42.2.5:8080, masqueraded (the destination sees this node's address), sent out"}},
		{"hairpin", Options{From: "10.42.1.5:5000", To: "10.43.0.10:80", Proto: "tcp"}, []string{
			"accepted: DNAT to endpoint 10.42.1.5:8080, masqueraded (hairpin: the pod reaches itself), forwarded",
			"accepted: DNAT to endpoint 10.42.2.5:8080, source kept, forwarded"}},
		{"LAN client to a node port", Options{From: "192.168.1.50", To: "192.168.1.11:30080", Proto: "tcp"}, []string{
			"accepted: DNAT to endpoint 10.42.1.5:8080, masqueraded (the destination sees this node's address), forwarded",
			"accepted: DNAT to endpoint 10.42.2.5:8080, masqueraded (the destination sees this node's address), forwarded"}},
		{"LAN client to an externalIP", Options{From: "192.168.1.50", To: "192.168.1.200:80", Proto: "tcp"}, []string{
			"accepted: DNAT to endpoint 10.42.1.5:8080, masqueraded (the destination sees this node's address), forwarded",
			"accepted: DNAT to endpoint 10.42.2.5:8080, masqueraded (the destination sees this node's address), forwarded"}},
		{"ETP Local from outside: the local endpoint, source kept", Options{From: "fd00:c0a8:1::50", To: "[fd00:c0a8:1::11]:30081", Proto: "tcp"}, []string{
			"accepted: DNAT to endpoint [2001:cafe:42:1::7]:8080, source kept, forwarded"}},
		{"no endpoints", Options{From: "10.42.1.9", To: "10.43.0.11:53", Proto: "udp"}, []string{"the service has no endpoints: rejected"}},
		{"no endpoints, IPv6", Options{From: "2001:cafe:42:1::9", To: "[2001:cafe:43::11]:53", Proto: "udp"}, []string{"the service has no endpoints: rejected"}},
		{"a port the service lacks", Options{From: "10.42.1.9", To: "10.43.0.10:81", Proto: "tcp"}, []string{"the service has no such port: rejected"}},
		{"no service at the address", Options{From: "10.42.1.9", To: "10.43.9.9:80", Proto: "tcp"}, []string{"address in a ServiceCIDR but no service: dropped"}},
		{"pod to the internet, through weft-egress", Options{From: "10.42.1.9", To: "1.1.1.1:443", Proto: "tcp"}, []string{
			"accepted: weft's rules leave the destination as it is (no service at 1.1.1.1:443), masqueraded (the destination sees this node's address), forwarded"}},
		{"ping a pod", Options{From: "10.42.1.9", To: "10.42.2.5", Proto: "icmp"}, []string{
			"accepted: weft's rules leave the destination as it is (no service at 10.42.2.5), source kept, forwarded"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.All = true
			outs, text := run(t, n, tc.o)
			var got []string
			for _, o := range outs {
				got = append(got, o.String())
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"), text)
			}
		})
	}
}

// TestPrinted checks the words a user reads: the packet, the tables, each rule with what it
// did, the result, and the hint about other random choices; for a service with affinity, and
// for a plain one, found through its cluster IP and its pick chain's set.
func TestPrinted(t *testing.T) {
	for _, tc := range []struct {
		to    string
		wants []string
	}{
		{"10.43.0.12:80", []string{
			"tcp 10.42.1.9:40000 -> 10.43.0.12:80, a new connection arriving at this node\n",
			"rules: table inet weft-proxy, table inet weft-egress\n",
			"-> jump firewall-check: a new connection: checked against LoadBalancer source ranges\n",
			" 3. prerouting  services: ip daddr . meta l4proto . th dport vmap @service-ips-v4\n",
			"-> goto svc-sogt7dyc-v4-default/sticky/tcp/80: 10.43.0.12 . tcp . 80 is a service address and port: service default/sticky port tcp/80\n",
			"endpoint 1 of 2, picked at random",
			"the client is remembered for session affinity",
			"result: accepted: DNAT to endpoint 10.42.1.6:8080, source kept, forwarded\n",
			"one of 2 ways at random",
		}},
		{"10.43.0.10:80", []string{
			"services: ip daddr @cluster-ips-v4 goto plain-v4\n",
			"-> goto plain-v4: 10.43.0.10 is a service's cluster IP: to the chain that finds a plain service",
			"plain-v4: ip daddr . tcp dport @to-pick-v4-tcp-2 goto pick-v4-tcp-2\n",
			"-> goto pick-v4-tcp-2: 10.43.0.10 . 80 is a service with 2 endpoint(s): a plain service, to one of its endpoints\n",
			"result: accepted: DNAT to endpoint 10.42.1.5:8080, source kept, forwarded\n",
		}},
	} {
		_, text := run(t, node1(t, "weft-proxy", "weft-egress"), Options{From: "10.42.1.9", To: tc.to, Proto: "tcp"})
		for _, want := range tc.wants {
			if !strings.Contains(text, want) {
				t.Errorf("no %q in\n%s", want, text)
			}
		}
	}
}

// TestLeftOut: a weft table the tracer cannot read is left out and named, weft-proxy is read,
// and other software's tables are not read at all.
func TestLeftOut(t *testing.T) {
	n := node1(t, "weft-proxy")
	n.tables["inet weft-future"] = "table inet weft-future {\n\tflowtable f {\n\t\thook ingress priority filter\n\t}\n}\n"
	n.tables["ip nat"] = "this is not read"
	_, text := run(t, n, Options{From: "10.42.1.9", To: "10.43.0.10:80", Proto: "tcp"})
	if !strings.Contains(text, "rules: table inet weft-proxy\n") || !strings.Contains(text, "left out, the tracer cannot simulate it: table inet weft-future (") {
		t.Errorf("tables read and left out:\n%s", text)
	}
}

func TestErrors(t *testing.T) {
	ok := Options{From: "10.42.1.9", To: "10.43.0.10:80", Proto: "tcp"}
	for _, tc := range []struct {
		name string
		o    Options
		n    func(fakeNode) fakeNode
		want []string
	}{
		{name: "nothing", o: Options{Proto: "tcp"}, want: []string{"--to is required", "--from is required", "--from-node"}},
		{name: "bad proto", o: Options{From: "10.42.1.9", To: "10.43.0.10:80", Proto: "http"}, want: []string{`--proto "http": use one of tcp, udp, sctp, icmp, icmpv6`}},
		{name: "no port", o: Options{From: "10.42.1.9", To: "10.43.0.10", Proto: "udp"}, want: []string{"--to 10.43.0.10: udp needs a port, such as --to 10.43.0.10:80"}},
		{name: "port for icmp", o: Options{From: "10.42.1.9", To: "10.43.0.10:80", Proto: "icmp"}, want: []string{"icmp has no ports"}},
		{name: "icmp to IPv6", o: Options{From: "2001:cafe:42:1::9", To: "2001:cafe:43::10", Proto: "icmp"}, want: []string{"use --proto icmpv6"}},
		{name: "bad to", o: Options{From: "10.42.1.9", To: "web:80", Proto: "tcp"}, want: []string{`--to "web:80": give ADDRESS:PORT`}},
		{name: "bad from", o: Options{From: "pod-a", To: "10.43.0.10:80", Proto: "tcp"}, want: []string{`--from "pod-a": give an address`}},
		{name: "mixed families", o: Options{From: "10.42.1.9", To: "[2001:cafe:43::10]:80", Proto: "tcp"}, want: []string{"different address families"}},
		{name: "from-node with a foreign address", o: Options{From: "10.42.1.9", FromNode: true, To: "10.43.0.10:80", Proto: "tcp"},
			want: []string{"--from 10.42.1.9 is not an address of this node: with --from-node give one of 192.168.1.11, 10.42.1.1, or leave --from out"}},
		{name: "no proxy table", o: ok, n: func(n fakeNode) fakeNode { delete(n.tables, "inet weft-proxy"); return n },
			want: []string{"no table inet weft-proxy in this network namespace: is the weft agent running with --proxy weft?"}},
		{name: "proxy table unreadable", o: ok, n: func(n fakeNode) fakeNode {
			n.tables["inet weft-proxy"] = "table inet weft-proxy {\n\tchain c {\n\t\tip daddr 1.2.3.4 queue num 1\n\t}\n}\n"
			return n
		}, want: []string{"table inet weft-proxy: ", "queue"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := node1(t, "weft-proxy")
			if tc.n != nil {
				n = tc.n(n)
			}
			_, err := Run(context.Background(), tc.o, n, io.Discard)
			for _, want := range tc.want {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("error %v, want one with %q", err, want)
				}
			}
		})
	}
}
