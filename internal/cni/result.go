package cni

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"

	"github.com/weftnet/weft/internal/netaddr"
)

// buildResult reports the attachment in the configuration's result version, after what
// earlier plugins of the chain reported.
func buildResult(conf *Config, args *skel.CmdArgs, pod Pod, bridge, host, podLink Link) (types.Result, error) {
	r := &current.Result{CNIVersion: current.ImplementedSpecVersion, DNS: conf.DNS}
	if prev := conf.PrevResult; prev != nil {
		r.Interfaces, r.IPs, r.Routes = prev.Interfaces, prev.IPs, prev.Routes
		if conf.DNS.IsEmpty() {
			r.DNS = prev.DNS
		}
	}
	podIndex := len(r.Interfaces) + 2
	r.Interfaces = append(r.Interfaces,
		&current.Interface{Name: bridge.Name, Mac: bridge.MAC},
		&current.Interface{Name: host.Name, Mac: host.MAC},
		&current.Interface{Name: podLink.Name, Mac: podLink.MAC, Mtu: podLink.MTU, Sandbox: args.Netns},
	)
	for i, a := range pod.Addrs {
		gw := pod.Gateways[i]
		r.IPs = append(r.IPs, &current.IPConfig{Interface: current.Int(podIndex), Address: *netaddr.IPNet(a), Gateway: gw.AsSlice()})
		r.Routes = append(r.Routes, &types.Route{Dst: *defaultDst(gw), GW: gw.AsSlice()})
	}
	return r.GetAsVersion(conf.CNIVersion)
}

// checkPrevResult compares the addresses the ADD reported on the pod's interface with the
// lease.
func checkPrevResult(conf *Config, args *skel.CmdArgs, leased []netip.Addr) error {
	prev := conf.PrevResult
	if prev == nil {
		return nil
	}
	var reported []netip.Addr
	for _, ipc := range prev.IPs {
		if ipc.Interface == nil || *ipc.Interface < 0 || *ipc.Interface >= len(prev.Interfaces) {
			continue
		}
		iface := prev.Interfaces[*ipc.Interface]
		if iface.Name == args.IfName && iface.Sandbox == args.Netns {
			reported = append(reported, netaddr.AddrOf(ipc.Address.IP))
		}
	}
	slices.SortFunc(reported, netip.Addr.Compare)
	want := slices.SortedFunc(slices.Values(leased), netip.Addr.Compare)
	if !slices.Equal(reported, want) {
		return fmt.Errorf("prevResult reports %v on %s but the lease holds %v", reported, args.IfName, want)
	}
	return nil
}

// invalidConfig is the CNI error for a configuration that failed validation.
func invalidConfig(errs []error) error {
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return types.NewError(types.ErrInvalidNetworkConfig, "invalid weft-cni network config: "+strings.Join(msgs, "; "), "")
}
