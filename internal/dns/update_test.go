package dns

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/utils/ptr"
)

// TestIncrementalMatchesFullBuild applies random changes to Services, EndpointSlices and Pods
// one at a time, as the informer handlers do, and after each batch compares the zone with a
// full build of the same objects: every record, every existing name, every PTR and pod name.
// The address pools are small, so Services share endpoint addresses and PTR owners, slices
// move between Services, and pods take each other's addresses.
func TestIncrementalMatchesFullBuild(t *testing.T) {
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, 13))
		c := newChurn(r)
		z := newClusterZone("cluster.local", 5, 0)
		for step := range 400 {
			c.step(z)
			if step%40 == 39 {
				want, got := dumpZone(buildClusterZone("cluster.local", 5, c.state())), dumpZone(z)
				if !slices.Equal(got, want) {
					t.Fatalf("seed %d step %d: incremental zone differs from a full build:\n%s", seed, step, diffLines(got, want))
				}
			}
		}
	}
}

// churn is a small cluster that changes at random.
type churn struct {
	r        *rand.Rand
	services map[string]*corev1.Service
	slices   map[string]*discoveryv1.EndpointSlice // by namespace/slice name
	pods     map[string]*corev1.Pod
}

func newChurn(r *rand.Rand) *churn {
	return &churn{r: r, services: map[string]*corev1.Service{}, slices: map[string]*discoveryv1.EndpointSlice{}, pods: map[string]*corev1.Pod{}}
}

var churnNamespaces = []string{"a", "b"}

func (c *churn) pick(n int) int { return c.r.IntN(n) }

func (c *churn) ip4() string { return fmt.Sprintf("10.42.0.%d", 1+c.pick(6)) }
func (c *churn) ip6() string { return fmt.Sprintf("2001:cafe:42::%d", 1+c.pick(6)) }

// step makes one change and files it in z the way follow's handlers do.
func (c *churn) step(z *zone) {
	ns := churnNamespaces[c.pick(len(churnNamespaces))]
	switch op := c.pick(10); {
	case op < 3: // a Service appears or changes
		svc := c.randomService(ns, fmt.Sprintf("s%d", c.pick(6)))
		key := ns + "/" + svc.Name
		c.services[key] = svc
		z.setService(key, svc, c.slicesOf(key))
	case op < 4: // a Service goes
		key := ns + "/" + fmt.Sprintf("s%d", c.pick(6))
		delete(c.services, key)
		z.setService(key, nil, c.slicesOf(key))
	case op < 6: // a slice appears, changes, or moves to another Service
		name := fmt.Sprintf("e%d", c.pick(8))
		sk := ns + "/" + name
		before := c.slices[sk]
		sl := c.randomSlice(ns, name)
		c.slices[sk] = sl
		if before != nil && sliceKey(before) != sliceKey(sl) {
			c.refile(z, sliceKey(before))
		}
		c.refile(z, sliceKey(sl))
	case op < 7: // a slice goes
		sk := ns + "/" + fmt.Sprintf("e%d", c.pick(8))
		if before := c.slices[sk]; before != nil {
			delete(c.slices, sk)
			c.refile(z, sliceKey(before))
		}
	case op < 9: // a pod appears or changes
		pk := ns + "/" + fmt.Sprintf("p%d", c.pick(6))
		old := c.pods[pk]
		p := pod(ns, strings.TrimPrefix(pk, ns+"/"), c.ip4())
		if c.pick(2) == 0 {
			p.Status.PodIPs = append(p.Status.PodIPs, corev1.PodIP{IP: c.ip6()})
		}
		switch c.pick(6) {
		case 0:
			p.Status.Phase = corev1.PodSucceeded
		case 1:
			p.Spec.HostNetwork = true
		}
		c.pods[pk] = p
		z.setPod(old, p)
	default: // a pod goes
		pk := ns + "/" + fmt.Sprintf("p%d", c.pick(6))
		if old := c.pods[pk]; old != nil {
			delete(c.pods, pk)
			z.setPod(old, nil)
		}
	}
}

func (c *churn) refile(z *zone, key string) {
	ns, name, _ := strings.Cut(key, "/")
	svc := c.services[ns+"/"+name]
	z.setService(key, svc, c.slicesOf(key))
}

func (c *churn) slicesOf(key string) []*discoveryv1.EndpointSlice {
	var out []*discoveryv1.EndpointSlice
	for _, sl := range c.slices {
		if sliceKey(sl) == key {
			out = append(out, sl)
		}
	}
	return out
}

func (c *churn) randomService(ns, name string) *corev1.Service {
	http := corev1.ServicePort{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}
	dnsPort := corev1.ServicePort{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP}
	switch c.pick(6) {
	case 0:
		svc := service(ns, name, []string{corev1.ClusterIPNone}, http)
		svc.Spec.PublishNotReadyAddresses = c.pick(2) == 0
		return svc
	case 1:
		svc := service(ns, name, nil)
		svc.Spec.Type, svc.Spec.ExternalName = corev1.ServiceTypeExternalName, "x.lab.example"
		return svc
	case 2:
		return service(ns, name, nil, http) // no address yet
	case 3:
		// Shares an address with another Service now and then, so PTR owners are shared.
		return service(ns, name, []string{fmt.Sprintf("10.43.0.%d", 1+c.pick(4)), fmt.Sprintf("2001:cafe:43::%d", 1+c.pick(4))}, http, dnsPort)
	default:
		return service(ns, name, []string{fmt.Sprintf("10.43.0.%d", 1+c.pick(4))}, http)
	}
}

func (c *churn) randomSlice(ns, name string) *discoveryv1.EndpointSlice {
	svc := fmt.Sprintf("s%d", c.pick(6))
	fam, ip := discoveryv1.AddressTypeIPv4, c.ip4
	if c.pick(3) == 0 {
		fam, ip = discoveryv1.AddressTypeIPv6, c.ip6
	}
	var eps []ep
	for range c.pick(4) {
		e := ep{ip: ip(), notReady: c.pick(4) == 0}
		if c.pick(3) == 0 {
			e.hostname = fmt.Sprintf("h%d", c.pick(3))
		}
		eps = append(eps, e)
	}
	ports := []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080), Protocol: ptr.To(corev1.ProtocolTCP)}}
	sl := slice(ns, svc, fam, ports, eps...)
	sl.Name = name
	return sl
}

// state is the churn's objects as a full build takes them.
func (c *churn) state() clusterState {
	st := clusterState{slices: map[string][]*discoveryv1.EndpointSlice{}}
	for _, svc := range c.services {
		st.services = append(st.services, svc)
	}
	for _, sl := range c.slices {
		st.slices[sliceKey(sl)] = append(st.slices[sliceKey(sl)], sl)
	}
	for _, p := range c.pods {
		st.pods = append(st.pods, p)
	}
	return st
}

// dumpZone is everything a zone answers from, as sorted lines.
func dumpZone(z *zone) []string {
	z.mu.RLock()
	defer z.mu.RUnlock()
	var out []string
	for name, rrs := range z.records {
		for _, rr := range rrs {
			out = append(out, "record "+name+" "+rr.String())
		}
	}
	for name, n := range z.below {
		out = append(out, fmt.Sprintf("exists %s %d", name, n))
	}
	for name, rrs := range z.reverse {
		for _, rr := range rrs {
			out = append(out, "reverse "+name+" "+rr.String())
		}
	}
	for ns, addrs := range z.pods.byNamespace {
		for a, n := range addrs {
			out = append(out, fmt.Sprintf("pod %s %s %d", ns, a, n))
		}
	}
	slices.Sort(out)
	return out
}

func diffLines(got, want []string) string {
	var b strings.Builder
	for _, l := range got {
		if !slices.Contains(want, l) {
			b.WriteString("+ " + l + "\n")
		}
	}
	for _, l := range want {
		if !slices.Contains(got, l) {
			b.WriteString("- " + l + "\n")
		}
	}
	return b.String()
}

// TestStripForDNSKeepsTheRecords: the zone of stripped objects is the zone of whole ones.
func TestStripForDNSKeepsTheRecords(t *testing.T) {
	st := fixture()
	for _, svc := range st.services {
		svc.Labels, svc.Annotations = map[string]string{"app": "x"}, map[string]string{"note": "y"}
		svc.Spec.Selector = map[string]string{"app": "x"}
	}
	stripped := clusterState{slices: map[string][]*discoveryv1.EndpointSlice{}}
	for _, svc := range st.services {
		o, _ := StripForDNS(svc)
		stripped.services = append(stripped.services, o.(*corev1.Service))
	}
	for key, sls := range st.slices {
		for _, sl := range sls {
			o, _ := StripForDNS(sl)
			stripped.slices[key] = append(stripped.slices[key], o.(*discoveryv1.EndpointSlice))
		}
	}
	for _, p := range st.pods {
		o, _ := StripForDNS(p)
		stripped.pods = append(stripped.pods, o.(*corev1.Pod))
	}
	want, got := dumpZone(buildClusterZone("cluster.local", 5, st)), dumpZone(buildClusterZone("cluster.local", 5, stripped))
	if !slices.Equal(got, want) {
		t.Fatalf("stripped objects make another zone:\n%s", diffLines(got, want))
	}
	if s := stripped.services[0]; s.Labels != nil || s.Spec.Selector != nil {
		t.Fatalf("kept what no record uses: %+v", s)
	}
}
