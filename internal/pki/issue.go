package pki

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"slices"
	"time"
)

// KeyPair is an issued certificate with its key, PEM-encoded.
type KeyPair struct {
	CertPEM, KeyPEM []byte
}

// Issue signs a new leaf certificate with a fresh key.
func (ca *CA) Issue(l Leaf) (KeyPair, error) {
	if err := l.Validate(); err != nil {
		return KeyPair{}, fmt.Errorf("issue %q: %w", l.CommonName, err)
	}
	key, err := newKey()
	if err != nil {
		return KeyPair{}, fmt.Errorf("issue %q: %w", l.CommonName, err)
	}
	serial, err := randomSerial()
	if err != nil {
		return KeyPair{}, fmt.Errorf("issue %q: %w", l.CommonName, err)
	}
	skid, err := subjectKeyID(&key.PublicKey)
	if err != nil {
		return KeyPair{}, fmt.Errorf("issue %q: %w", l.CommonName, err)
	}
	var usages []x509.ExtKeyUsage
	if l.Server {
		usages = append(usages, x509.ExtKeyUsageServerAuth)
	}
	if l.Client {
		usages = append(usages, x509.ExtKeyUsageClientAuth)
	}
	now := time.Now()
	notAfter := now.Add(l.ValidFor)
	// A leaf cannot be trusted past its CA's expiry anyway; clamping keeps the
	// certificate honest about when it stops working.
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			CommonName:   l.CommonName,
			Organization: slices.Clone(l.Organization),
		},
		// Backdated so that a peer whose clock runs slightly behind accepts it.
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           usages,
		BasicConstraintsValid: true,
		DNSNames:              slices.Clone(l.DNSNames),
		IPAddresses:           slices.Clone(l.IPs),
		SubjectKeyId:          skid,
		AuthorityKeyId:        ca.Cert.SubjectKeyId,
	}
	der, err := x509.CreateCertificate(nil, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return KeyPair{}, fmt.Errorf("issue %q: sign certificate: %w", l.CommonName, err)
	}
	kp, err := keyPEM(key)
	if err != nil {
		return KeyPair{}, fmt.Errorf("issue %q: %w", l.CommonName, err)
	}
	return KeyPair{CertPEM: certPEM(der), KeyPEM: kp}, nil
}
