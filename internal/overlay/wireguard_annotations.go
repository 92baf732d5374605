package overlay

import (
	"fmt"
	"strconv"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/weftnet/weft/internal/wireguard"
)

// BackendWireGuard encrypts pod traffic between nodes in WireGuard: one device per node
// carries both families, each peer's podCIDRs are its allowed IPs.
const BackendWireGuard = "wireguard"

// WireGuard's device name, default port, and annotations. The public key is all a peer needs
// besides the address it already publishes; the private key never leaves the node.
const (
	WireGuardDevice         = "weft-wg"
	DefaultWireGuardPort    = 51820
	AnnotationWireGuardKey  = "weft.dev/wireguard-public-key"
	AnnotationWireGuardPort = "weft.dev/wireguard-port"
	AnnotationWireGuardMode = "weft.dev/wireguard-mode"
	WireGuardOverheadV4     = 20 + 8 + 32 // outer IPv4 + UDP + WireGuard header 16 and tag 16
	WireGuardOverheadV6     = 40 + 8 + 32
)

const wireGuardAnnotationProblem = "node %s: annotation %s=%q: %v"

// WireGuardAnnotations are the keys a WireGuard node publishes beyond the backend's own.
var WireGuardAnnotations = []string{AnnotationWireGuardKey, AnnotationWireGuardPort, AnnotationWireGuardMode}

// parseWireGuard reads a Node's WireGuard annotations: its public key and port. A missing
// annotation is no problem (its agent has not published yet); a malformed one is reported and
// left zero, so the peer is reported unreachable instead of configured wrong.
func parseWireGuard(node string, ann map[string]string) (wgtypes.Key, int, []error) {
	var problems []error
	var key wgtypes.Key
	port := DefaultWireGuardPort
	if s, ok := ann[AnnotationWireGuardKey]; ok {
		k, err := wireguard.ParsePublicKey(s)
		if err != nil {
			problems = append(problems, fmt.Errorf(wireGuardAnnotationProblem, node, AnnotationWireGuardKey, s, err))
		} else {
			key = k
		}
	}
	if s, ok := ann[AnnotationWireGuardPort]; ok {
		p, err := strconv.Atoi(s)
		if err != nil || p < 1 || p > 65535 {
			problems = append(problems, fmt.Errorf(wireGuardAnnotationProblem, node, AnnotationWireGuardPort, s, "not a UDP port (1 to 65535)"))
			port = 0
		} else {
			port = p
		}
	}
	return key, port, problems
}

// wireGuardAnnotations adds what peers need of this node's WireGuard to out.
func wireGuardAnnotations(l Local, out map[string]string) {
	if l.WireGuard.PublicKey == (wgtypes.Key{}) {
		return
	}
	out[AnnotationWireGuardKey] = l.WireGuard.PublicKey.String()
	out[AnnotationWireGuardPort] = strconv.Itoa(l.WireGuard.Port)
	if l.WireGuard.Mode != "" {
		out[AnnotationWireGuardMode] = l.WireGuard.Mode
	}
}
