package hoststate

import "fmt"

// Section names. They are exported so that callers can assert on a single
// section, e.g. to tolerate an expected difference.
const (
	SectionLinks     = "links"
	SectionAddresses = "addresses"
	SectionRoutes    = "routes"
	SectionRules     = "rules"
	SectionNetns     = "netns"
	SectionMounts    = "mounts"
	SectionSysctl    = "sysctl"
	SectionNftables  = "nftables"
	SectionIptables  = "iptables"
)

// Snapshot is the host's network-relevant state, one normalized text per section.
type Snapshot struct {
	Sections map[string]string
}

// collector produces the normalized text of one section.
type collector struct {
	name    string
	collect func() (string, error)
}

// collectors lists the sections in the order Take reads them. sysctl comes
// last on purpose: the firewall tools may make the kernel autoload modules
// that register new sysctl entries, and reading sysctl after them keeps the
// very first snapshot consistent with later ones.
func collectors() []collector {
	return []collector{
		{SectionLinks, collectLinks},
		{SectionAddresses, collectAddresses},
		{SectionRoutes, collectRoutes},
		{SectionRules, collectRules},
		{SectionNetns, func() (string, error) { return readNetns(netnsDir) }},
		{SectionMounts, collectMounts},
		{SectionNftables, collectNftables},
		{SectionIptables, collectIptables},
		{SectionSysctl, func() (string, error) { return readSysctl(sysctlRoot) }},
	}
}

// Take snapshots the network state of the calling process's namespaces. It
// needs root to read the firewall; a missing tool is recorded in its section,
// but a tool that fails is an error, since a section that could not be read
// would otherwise compare equal and hide a change.
func Take() (Snapshot, error) {
	s := Snapshot{Sections: make(map[string]string)}
	for _, c := range collectors() {
		text, err := c.collect()
		if err != nil {
			return Snapshot{}, fmt.Errorf("hoststate: section %q: %w", c.name, err)
		}
		s.Sections[c.name] = text
	}
	return s, nil
}
