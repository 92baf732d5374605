package cni

import (
	"errors"
	"fmt"
	"slices"
	"sort"
)

// fakeKernel keeps links as names: the node's in host, each pod's by namespace path.
type fakeKernel struct {
	bridges  map[string]Bridge
	host     map[string]string // host veth -> bridge
	pods     map[string]map[string]Pod
	failWith error // SetupPod fails after creating the pair
	calls    []string
}

func newFakeKernel() *fakeKernel {
	return &fakeKernel{bridges: map[string]Bridge{}, host: map[string]string{}, pods: map[string]map[string]Pod{}}
}

func (k *fakeKernel) EnsureBridge(b Bridge) (Link, error) {
	k.calls = append(k.calls, "EnsureBridge "+b.Name)
	k.bridges[b.Name] = b
	return Link{Name: b.Name, MAC: "02:00:00:00:00:01", MTU: b.MTU, Index: 3}, nil
}

func (k *fakeKernel) PodHasLink(netns, ifName string) (bool, error) {
	if netns == "" || netns == "/missing" {
		return false, errors.New("no such file or directory")
	}
	_, ok := k.pods[netns][ifName]
	return ok, nil
}

func (k *fakeKernel) SetupPod(p Pod) (Link, Link, error) {
	k.calls = append(k.calls, "SetupPod "+p.HostName)
	if _, ok := k.pods[p.Netns][p.IfName]; ok {
		return Link{}, Link{}, fmt.Errorf("create veth: %w", ErrLinkExists)
	}
	k.host[p.HostName] = p.Bridge
	if k.pods[p.Netns] == nil {
		k.pods[p.Netns] = map[string]Pod{}
	}
	k.pods[p.Netns][p.IfName] = p
	if k.failWith != nil {
		return Link{}, Link{}, k.failWith
	}
	return Link{Name: p.HostName, MAC: "02:00:00:00:00:02", MTU: p.MTU, Index: 4},
		Link{Name: p.IfName, MAC: "02:00:00:00:00:03", MTU: p.MTU, Index: 2}, nil
}

func (k *fakeKernel) CheckPod(p Pod) error {
	if _, ok := k.host[p.HostName]; !ok {
		return fmt.Errorf("host veth %s missing", p.HostName)
	}
	got, ok := k.pods[p.Netns][p.IfName]
	if !ok {
		return fmt.Errorf("%s missing in the pod", p.IfName)
	}
	if !slices.Equal(got.Addrs, p.Addrs) || !slices.Equal(got.Gateways, p.Gateways) {
		return fmt.Errorf("pod has %v via %v, want %v via %v", got.Addrs, got.Gateways, p.Addrs, p.Gateways)
	}
	return nil
}

func (k *fakeKernel) DeleteLink(name string) (bool, error) {
	if _, ok := k.host[name]; !ok {
		return false, nil
	}
	k.calls = append(k.calls, "DeleteLink "+name)
	delete(k.host, name)
	for ns, links := range k.pods { // the pod end goes with it
		for ifName, p := range links {
			if p.HostName == name {
				delete(k.pods[ns], ifName)
			}
		}
	}
	return true, nil
}

func (k *fakeKernel) DeletePodLink(netns, ifName string) error {
	delete(k.pods[netns], ifName)
	return nil
}

func (k *fakeKernel) BridgePorts(bridge string) ([]string, error) {
	var out []string
	for name, br := range k.host {
		if br == bridge {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out, nil
}
