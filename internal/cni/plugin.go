// Package cni is the weft-cni plugin: it attaches pods to the node's bridge with a veth pair
// and gives them one address per family from the node's pod CIDRs.
package cni

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strings"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/cni/pkg/version"

	"github.com/weftnet/weft/internal/hostport"
	"github.com/weftnet/weft/internal/ipam"
)

// Versions are the CNI specification versions weft-cni speaks; results are converted to the
// configuration's.
var Versions = version.PluginSupports("0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")

// About is printed when the binary runs without CNI_COMMAND.
const About = "weft-cni: the weft CNI plugin (bridge + veth, dual-stack IPAM from the node's podCIDRs)"

// CNI error codes of the specification that the library does not name.
const (
	ErrNotAvailable           uint = 50
	ErrNotAvailableDisrupting uint = 51
)

// Main runs one CNI command from the environment and stdin, and exits.
func Main() {
	skel.PluginMainFuncs(New().Funcs(), Versions, About)
}

// Plugin runs the CNI commands.
type Plugin struct {
	Kernel    Kernel
	HostPorts HostPorts
	Stdout    io.Writer
}

// New returns the plugin for a real node.
func New() *Plugin {
	return &Plugin{Kernel: LinuxKernel{}, HostPorts: newNodeHostPorts(), Stdout: os.Stdout}
}

// Funcs wires the commands for skel.
func (p *Plugin) Funcs() skel.CNIFuncs {
	return skel.CNIFuncs{Add: p.Add, Del: p.Del, Check: p.Check, GC: p.GC, Status: p.Status}
}

const notReady = `the node's pod CIDRs are not known yet ("podCIDRs" is empty): the weft agent writes them once the Node has spec.podCIDRs`

// Add attaches the pod: bridge, veth pair, addresses, default routes. On error it undoes
// everything it did, so a failed ADD leaves neither a lease nor a link behind.
func (p *Plugin) Add(args *skel.CmdArgs) (err error) {
	conf, err := Parse(args.StdinData)
	if err != nil {
		return err
	}
	if !conf.Ready() {
		return types.NewError(types.ErrTryAgainLater, notReady, "")
	}
	exists, err := p.Kernel.PodHasLink(args.Netns, args.IfName)
	if err != nil {
		return types.NewError(types.ErrInvalidEnvironmentVariables, fmt.Sprintf("CNI_NETNS %s: %v", args.Netns, err), "")
	}
	if exists {
		return ifNameTaken(args)
	}
	store, err := ipam.Open(conf.DataDir, conf.Name)
	if err != nil {
		return err
	}
	bridge, err := p.Kernel.EnsureBridge(Bridge{Name: conf.Bridge, MTU: conf.MTU, Gateways: gateways(conf.PodCIDRs)})
	if err != nil {
		return err
	}
	hostName := HostVethName(args.ContainerID, args.IfName)
	// A host veth of this name is left from an ADD of this attachment that died half-way:
	// its pod end is not in the pod, as checked above.
	if _, err := p.Kernel.DeleteLink(hostName); err != nil {
		return err
	}
	key := ipam.Key{ContainerID: args.ContainerID, IfName: args.IfName}
	owner := hostPortOwner(args.ContainerID, args.IfName)
	ips, created, err := store.Allocate(key, conf.PodCIDRs)
	if errors.Is(err, ipam.ErrExhausted) {
		return types.NewError(types.ErrTryAgainLater, fmt.Sprintf("%v: try again once pods of this node are deleted", err), "")
	}
	if err != nil {
		return err
	}
	defer func() {
		if err == nil {
			return
		}
		var undo []error
		if e := p.delHostPorts(conf, owner); e != nil {
			undo = append(undo, e)
		}
		if _, e := p.Kernel.DeleteLink(hostName); e != nil {
			undo = append(undo, e)
		}
		if created {
			if _, e := store.Release(key); e != nil {
				undo = append(undo, e)
			}
		}
		err = withUndoError(err, errors.Join(undo...))
	}()

	pod := podOf(conf, args, ips)
	host, podLink, err := p.Kernel.SetupPod(pod)
	if errors.Is(err, ErrLinkExists) {
		return ifNameTaken(args)
	}
	if err != nil {
		return err
	}
	if err := p.addHostPorts(conf, owner, ips); err != nil {
		return err
	}
	result, err := buildResult(conf, args, pod, bridge, host, podLink)
	if err != nil {
		return err
	}
	return result.PrintTo(p.Stdout)
}

// Del detaches the pod. It succeeds when there is nothing left to do: twice in a row, after
// the pod's namespace is gone, or for an attachment it never saw.
func (p *Plugin) Del(args *skel.CmdArgs) error {
	conf, err := Parse(args.StdinData)
	if err != nil {
		return err
	}
	// The mappings go first: they must not outlive the address they lead to, which the
	// next pod may get.
	if err := p.delHostPorts(conf, hostPortOwner(args.ContainerID, args.IfName)); err != nil {
		return err
	}
	found, err := p.Kernel.DeleteLink(HostVethName(args.ContainerID, args.IfName))
	if err != nil {
		return err // keep the lease while the pod may still hold its address
	}
	if !found && args.Netns != "" {
		if err := p.Kernel.DeletePodLink(args.Netns, args.IfName); err != nil {
			return err
		}
	}
	store, err := ipam.Open(conf.DataDir, conf.Name)
	if err != nil {
		return err
	}
	_, err = store.Release(ipam.Key{ContainerID: args.ContainerID, IfName: args.IfName})
	return err
}

// Check verifies that the pod still has its link, addresses and default routes, that the
// host end is on the bridge, and that the lease is held.
func (p *Plugin) Check(args *skel.CmdArgs) error {
	conf, err := Parse(args.StdinData)
	if err != nil {
		return err
	}
	if !conf.Ready() {
		return types.NewError(types.ErrTryAgainLater, notReady, "")
	}
	store, err := ipam.Open(conf.DataDir, conf.Name)
	if err != nil {
		return err
	}
	key := ipam.Key{ContainerID: args.ContainerID, IfName: args.IfName}
	lease, ok, err := store.Get(key)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("no address lease for container %s interface %s in %s", args.ContainerID, args.IfName, store.Dir())
	}
	var ips []netip.Addr
	for _, r := range conf.PodCIDRs {
		i := slices.IndexFunc(lease.IPs, r.Contains)
		if i < 0 {
			return fmt.Errorf("the lease of %s holds no address in pod CIDR %s (it holds %v)", key, r, lease.IPs)
		}
		ips = append(ips, lease.IPs[i])
	}
	if err := checkPrevResult(conf, args, ips); err != nil {
		return err
	}
	if err := p.Kernel.CheckPod(podOf(conf, args, ips)); err != nil {
		return err
	}
	if entries := hostport.Entries(conf.PortMappings, ips); len(entries) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), hostPortTimeout)
		defer cancel()
		return p.HostPorts.Check(ctx, conf, hostPortOwner(args.ContainerID, args.IfName), entries)
	}
	return nil
}

// GC frees every lease whose attachment is not in the runtime's list of valid ones, and
// deletes the host veths of those attachments.
func (p *Plugin) GC(args *skel.CmdArgs) error {
	conf, err := Parse(args.StdinData)
	if err != nil {
		return err
	}
	valid := make(map[ipam.Key]bool, len(conf.ValidAttachments))
	validLinks := make(map[string]bool, len(conf.ValidAttachments))
	validOwners := make(map[string]bool, len(conf.ValidAttachments))
	for _, k := range conf.ValidAttachments {
		valid[k] = true
		validLinks[HostVethName(k.ContainerID, k.IfName)] = true
		validOwners[hostPortOwner(k.ContainerID, k.IfName)] = true
	}
	if err := p.gcHostPorts(conf, validOwners); err != nil {
		return err
	}
	store, err := ipam.Open(conf.DataDir, conf.Name)
	if err != nil {
		return err
	}
	var errs []error
	freed, err := store.Retain(func(k ipam.Key) bool { return valid[k] })
	if err != nil {
		errs = append(errs, err)
	}
	stale := map[string]bool{}
	for _, l := range freed {
		stale[HostVethName(l.ContainerID, l.IfName)] = true
	}
	ports, err := p.Kernel.BridgePorts(conf.Bridge)
	if err != nil {
		errs = append(errs, err)
	}
	for _, name := range ports {
		if strings.HasPrefix(name, HostVethPrefix) && !validLinks[name] {
			stale[name] = true
		}
	}
	for _, name := range sortedSet(stale) {
		if _, err := p.Kernel.DeleteLink(name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Status says whether an ADD could succeed now: the node's ranges are known and each has a
// free address.
func (p *Plugin) Status(args *skel.CmdArgs) error {
	conf, err := Parse(args.StdinData)
	if err != nil {
		return err
	}
	if !conf.Ready() {
		return types.NewError(ErrNotAvailable, notReady, "")
	}
	store, err := ipam.Open(conf.DataDir, conf.Name)
	if err != nil {
		return types.NewError(ErrNotAvailable, err.Error(), "")
	}
	if err := store.Available(conf.PodCIDRs); err != nil {
		return types.NewError(ErrNotAvailable, err.Error(), "")
	}
	return nil
}

func podOf(conf *Config, args *skel.CmdArgs, ips []netip.Addr) Pod {
	pod := Pod{
		Netns:    args.Netns,
		IfName:   args.IfName,
		HostName: HostVethName(args.ContainerID, args.IfName),
		Bridge:   conf.Bridge,
		MTU:      conf.MTU,
		Hairpin:  conf.HairpinMode,
	}
	for i, a := range ips {
		r := conf.PodCIDRs[i]
		pod.Addrs = append(pod.Addrs, netip.PrefixFrom(a, r.Bits()))
		pod.Gateways = append(pod.Gateways, ipam.Gateway(r))
	}
	return pod
}

func gateways(ranges []netip.Prefix) []netip.Prefix {
	out := make([]netip.Prefix, len(ranges))
	for i, r := range ranges {
		out[i] = netip.PrefixFrom(ipam.Gateway(r), r.Bits())
	}
	return out
}

func ifNameTaken(args *skel.CmdArgs) error {
	return types.NewError(types.ErrInvalidEnvironmentVariables,
		fmt.Sprintf("CNI_IFNAME %s already exists in CNI_NETNS %s: DEL that attachment first, or choose another CNI_IFNAME", args.IfName, args.Netns), "")
}

// withUndoError adds a failed undo to the error of an ADD, keeping its CNI code.
func withUndoError(err, undo error) error {
	if undo == nil {
		return err
	}
	var e *types.Error
	if errors.As(err, &e) {
		c := *e
		c.Details = strings.TrimSpace(c.Details + " (undoing the partial ADD failed too: " + undo.Error() + ")")
		return &c
	}
	return fmt.Errorf("%w (undoing the partial ADD failed too: %v)", err, undo)
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
