package pki

import (
	"fmt"
	"net"
	"time"
)

// Leaf describes one certificate to issue.
type Leaf struct {
	CommonName string
	// Organization becomes the Kubernetes group of a client, e.g. "system:masters".
	Organization []string
	DNSNames     []string
	IPs          []net.IP
	// Server and Client select ExtKeyUsageServerAuth and ExtKeyUsageClientAuth.
	Server, Client bool
	ValidFor       time.Duration
}

// FieldError reports the Leaf field that made it unusable, so that a caller
// building many leaves from configuration can point at the offending setting.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("invalid leaf: %s: %s", e.Field, e.Reason)
}

// Validate reports the first problem that would make the certificate useless.
func (l Leaf) Validate() error {
	switch {
	case l.CommonName == "":
		return &FieldError{Field: "CommonName", Reason: "must not be empty"}
	case !l.Server && !l.Client:
		return &FieldError{Field: "Server/Client", Reason: "at least one must be set"}
	case l.Server && len(l.DNSNames) == 0 && len(l.IPs) == 0:
		// Go and Kubernetes ignore the CN for hostname checks, so a server
		// certificate without SANs would fail every handshake.
		return &FieldError{Field: "DNSNames/IPs", Reason: "a server certificate needs at least one"}
	case l.ValidFor <= 0:
		return &FieldError{Field: "ValidFor", Reason: fmt.Sprintf("must be positive, got %v", l.ValidFor)}
	}
	return nil
}
