package pki

import (
	"crypto/ecdsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"time"
)

// CA is a certificate authority kept in memory, able to sign leaf certificates.
type CA struct {
	Cert    *x509.Certificate
	Key     *ecdsa.PrivateKey
	CertPEM []byte
}

// NewCA creates a self-signed CA valid from a minute ago for validFor.
func NewCA(commonName string, validFor time.Duration) (*CA, error) {
	if commonName == "" {
		return nil, errors.New("new CA: commonName must not be empty")
	}
	if validFor <= 0 {
		return nil, fmt.Errorf("new CA %q: validFor must be positive, got %v", commonName, validFor)
	}
	key, err := newKey()
	if err != nil {
		return nil, fmt.Errorf("new CA %q: %w", commonName, err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, fmt.Errorf("new CA %q: %w", commonName, err)
	}
	skid, err := subjectKeyID(&key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("new CA %q: %w", commonName, err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: commonName},
		// Backdated so that a peer whose clock runs slightly behind accepts it.
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(validFor),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		// The lab never needs intermediates, so forbid them outright.
		MaxPathLen:     0,
		MaxPathLenZero: true,
		SubjectKeyId:   skid,
	}
	der, err := x509.CreateCertificate(nil, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("new CA %q: sign certificate: %w", commonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("new CA %q: parse certificate: %w", commonName, err)
	}
	return &CA{Cert: cert, Key: key, CertPEM: certPEM(der)}, nil
}

// WriteFiles stores the CA so that LoadCA can restore it on the next lab start.
func (ca *CA) WriteFiles(certFile, keyFile string) error {
	kp, err := keyPEM(ca.Key)
	if err != nil {
		return fmt.Errorf("write CA: %w", err)
	}
	return KeyPair{CertPEM: ca.CertPEM, KeyPEM: kp}.WriteFiles(certFile, keyFile)
}
