package cni

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"

	"github.com/weftnet/weft/internal/hostport"
	"github.com/weftnet/weft/internal/ipam"
)

// Defaults of the optional fields.
const (
	DefaultBridge  = "weft0"
	DefaultMTU     = 1500
	DefaultDataDir = "/var/lib/cni/weft"
)

// Config is one weft-cni plugin object of a network configuration list, as the runtime
// hands it to the plugin.
type Config struct {
	CNIVersion  string
	Name        string
	Bridge      string
	MTU         int
	HairpinMode bool
	// PodCIDRs are the node's pod ranges, at most one per family, in the node's order.
	// Empty means the node's ranges are not known yet: the plugin is not ready.
	PodCIDRs []netip.Prefix
	DataDir  string
	DNS      types.DNS

	// PrevResult is the result of the previous plugin of the chain, if any, converted to
	// the current result type.
	PrevResult *current.Result
	// ValidAttachments is the GC request's list of attachments to keep. A GC request
	// without the list keeps nothing.
	ValidAttachments []ipam.Key
	// PortMappings are the pod's hostPorts, from the runtime's "portMappings" capability
	// (runtimeConfig.portMappings): the configuration declares the capability, the runtime
	// fills it in.
	PortMappings []hostport.Mapping
}

// Ready reports whether the node's pod ranges are known.
func (c *Config) Ready() bool { return len(c.PodCIDRs) > 0 }

// field decodes and checks one top-level key into c. A nil field is a key the plugin accepts
// and ignores.
type field func(c *Config, raw json.RawMessage) error

var fields = map[string]field{
	"cniVersion": func(c *Config, raw json.RawMessage) error { return decode(raw, &c.CNIVersion) },
	"name": func(c *Config, raw json.RawMessage) error {
		if err := decode(raw, &c.Name); err != nil {
			return err
		}
		if !networkName.MatchString(c.Name) {
			return fmt.Errorf("%q is not a network name: start with a letter or digit, then use letters, digits, '_', '.' or '-'", c.Name)
		}
		return nil
	},
	"type": func(c *Config, raw json.RawMessage) error {
		var t string
		return decode(raw, &t)
	},
	"bridge": func(c *Config, raw json.RawMessage) error {
		if err := decode(raw, &c.Bridge); err != nil {
			return err
		}
		return checkIfName(c.Bridge)
	},
	"mtu": func(c *Config, raw json.RawMessage) error {
		if err := decode(raw, &c.MTU); err != nil {
			return err
		}
		if c.MTU < 68 || c.MTU > 65535 {
			return fmt.Errorf("%d is out of range: use an MTU from 68 to 65535 (1280 or more with IPv6), or leave it out for %d", c.MTU, DefaultMTU)
		}
		return nil
	},
	"hairpinMode": func(c *Config, raw json.RawMessage) error { return decode(raw, &c.HairpinMode) },
	"podCIDRs": func(c *Config, raw json.RawMessage) error {
		var ss []string
		if err := decode(raw, &ss); err != nil {
			return err
		}
		return c.setPodCIDRs(ss)
	},
	"dataDir": func(c *Config, raw json.RawMessage) error {
		if err := decode(raw, &c.DataDir); err != nil {
			return err
		}
		if !filepath.IsAbs(c.DataDir) {
			return fmt.Errorf("%q is not an absolute path: use one such as %s", c.DataDir, DefaultDataDir)
		}
		c.DataDir = filepath.Clean(c.DataDir)
		return nil
	},
	"dns": func(c *Config, raw json.RawMessage) error {
		if err := decode(raw, &c.DNS); err != nil {
			return err
		}
		for _, ns := range c.DNS.Nameservers {
			if _, err := netip.ParseAddr(ns); err != nil {
				return fmt.Errorf("nameserver %q is not an IP address", ns)
			}
		}
		return nil
	},
	// prevResult is decoded last, once cniVersion says how.
	"prevResult":                nil,
	"cni.dev/valid-attachments": decodeAttachments,
	// libcni also sends the list under this name, which an early 1.1.0 draft used.
	"cni.dev/attachments": func(c *Config, raw json.RawMessage) error {
		if c.ValidAttachments != nil {
			return nil
		}
		return decodeAttachments(c, raw)
	},
	// Keys of the protocol that weft-cni does not use.
	"cniVersions":   nil,
	"capabilities":  nil,
	"runtimeConfig": decodeRuntimeConfig,
	"args":          nil,
}

// refused are well-known keys weft-cni deliberately does not take, with the reason.
var refused = map[string]string{
	"ipam":   "weft-cni allocates pod addresses itself from podCIDRs: remove \"ipam\" and set \"podCIDRs\"",
	"ipMasq": "masquerading is the weft agent's job: remove \"ipMasq\"",
}

// Parse decodes and validates a plugin configuration. Every problem is reported at once,
// each naming its field; the error is a CNI error with code 7 (6 for text that is not a JSON
// object).
func Parse(data []byte) (*Config, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil || raw == nil {
		if err == nil {
			err = errors.New("it is null")
		}
		return nil, types.NewError(types.ErrDecodingFailure, fmt.Sprintf("network config is not a JSON object: %v", err), "")
	}
	c := &Config{Bridge: DefaultBridge, MTU: DefaultMTU, HairpinMode: true, DataDir: DefaultDataDir}
	var errs []error
	for _, k := range sortedKeys(raw) {
		f, known := fields[k]
		switch {
		case known && f != nil:
			if err := f(c, raw[k]); err != nil {
				errs = append(errs, fmt.Errorf("field %q: %w", k, err))
			}
		case known, strings.HasPrefix(k, "cni.dev/"):
			// Accepted and unused; cni.dev/ keys belong to the protocol.
		case refused[k] != "":
			errs = append(errs, fmt.Errorf("field %q: %s", k, refused[k]))
		default:
			errs = append(errs, unknownField(k))
		}
	}
	if pr, ok := raw["prevResult"]; ok && !bytes.Equal(pr, []byte("null")) {
		var err error
		if c.PrevResult, err = decodePrevResult(c.CNIVersion, pr); err != nil {
			errs = append(errs, fmt.Errorf("field \"prevResult\": %w", err))
		}
	}
	if _, ok := raw["name"]; !ok {
		errs = append(errs, errors.New(`field "name": missing: the runtime sets it from the network configuration list's name`))
	}
	if len(c.PodCIDRs) > 0 && c.MTU < 1280 && slices.ContainsFunc(c.PodCIDRs, func(p netip.Prefix) bool { return p.Addr().Is6() }) {
		errs = append(errs, fmt.Errorf(`field "mtu": %d is too small for the IPv6 pod CIDR: IPv6 needs 1280 or more`, c.MTU))
	}
	if len(errs) > 0 {
		return nil, invalidConfig(errs)
	}
	return c, nil
}

func (c *Config) setPodCIDRs(ss []string) error {
	if len(ss) > 2 {
		return fmt.Errorf("%d ranges given: give at most two, one IPv4 and one IPv6", len(ss))
	}
	c.PodCIDRs = nil
	for i, s := range ss {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return fmt.Errorf("[%d] %q is not a CIDR: use a form like 10.42.0.0/24 or 2001:cafe:42::/64", i, s)
		}
		switch {
		case p.Addr().Is4In6():
			return fmt.Errorf("[%d] %s is an IPv4-mapped IPv6 range: write it as IPv4", i, s)
		case p.Addr().Zone() != "":
			return fmt.Errorf("[%d] %s has a zone: remove it", i, s)
		case p != p.Masked():
			return fmt.Errorf("[%d] %s has host bits set: use %s", i, s, p.Masked())
		case p.Addr().Is4() && p.Bits() > 30:
			return fmt.Errorf("[%d] %s leaves no address for pods after the gateway and broadcast: use /30 or larger", i, s)
		case p.Addr().Is6() && p.Bits() > 126:
			return fmt.Errorf("[%d] %s leaves no address for pods after the gateway: use /126 or larger", i, s)
		}
		for _, q := range c.PodCIDRs {
			if q.Addr().Is4() == p.Addr().Is4() {
				return fmt.Errorf("[%d] %s is a second range of the same family as %s: give one range per family", i, s, q)
			}
		}
		c.PodCIDRs = append(c.PodCIDRs, p)
	}
	return nil
}

func decodePrevResult(cniVersion string, raw json.RawMessage) (*current.Result, error) {
	if cniVersion == "" {
		return nil, errors.New(`it needs "cniVersion" to be decoded`)
	}
	r, err := version.NewResult(cniVersion, raw)
	if err != nil {
		return nil, err
	}
	return current.NewResultFromResult(r)
}

// decodeRuntimeConfig takes the capabilities weft-cni implements from runtimeConfig and
// leaves the others (a runtime sends every capability some plugin of the list declares).
func decodeRuntimeConfig(c *Config, raw json.RawMessage) error {
	var rc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &rc); err != nil {
		return errors.New("not a JSON object")
	}
	pm, ok := rc["portMappings"]
	if !ok || bytes.Equal(pm, []byte("null")) {
		return nil
	}
	if err := decode(pm, &c.PortMappings); err != nil {
		return fmt.Errorf("portMappings: %w", err)
	}
	return hostport.Validate(c.PortMappings)
}

func decodeAttachments(c *Config, raw json.RawMessage) error {
	var as []types.GCAttachment
	if err := decode(raw, &as); err != nil {
		return err
	}
	c.ValidAttachments = make([]ipam.Key, 0, len(as))
	for _, a := range as {
		c.ValidAttachments = append(c.ValidAttachments, ipam.Key{ContainerID: a.ContainerID, IfName: a.IfName})
	}
	return nil
}

// decode unmarshals one field strictly: object fields must be known and spelled exactly.
func decode(raw json.RawMessage, v any) error {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return fmt.Errorf("got a JSON %s, want %s", te.Value, jsonKind(te.Type.String()))
		}
		return err
	}
	return nil
}

func jsonKind(goType string) string {
	switch {
	case goType == "string":
		return "a string"
	case goType == "bool":
		return "true or false"
	case goType == "int":
		return "a whole number"
	case strings.HasPrefix(goType, "[]"):
		return "a list"
	default:
		return "an object"
	}
}

func unknownField(k string) error {
	for name := range fields {
		if strings.EqualFold(name, k) || strings.EqualFold(name, k+"s") || strings.EqualFold(name+"s", k) {
			return fmt.Errorf("unknown field %q: did you mean %q?", k, name)
		}
	}
	return fmt.Errorf("unknown field %q: weft-cni takes bridge, mtu, hairpinMode, podCIDRs and dataDir besides the CNI keys; remove it", k)
}

var networkName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$`)

func checkIfName(s string) error {
	switch {
	case s == "":
		return errors.New("empty: name the bridge, e.g. " + DefaultBridge)
	case len(s) > 15:
		return fmt.Errorf("%q is longer than 15 bytes, the kernel's limit for interface names", s)
	case s == "." || s == ".." || strings.ContainsAny(s, "/: \t\n\r\v\f"):
		return fmt.Errorf("%q is not an interface name: avoid '/', ':' and spaces", s)
	}
	return nil
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
