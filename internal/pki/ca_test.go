package pki

import (
	"crypto/x509"
	"strings"
	"testing"
	"time"
)

func TestNewCA(t *testing.T) {
	tests := []struct {
		name     string
		cn       string
		validFor time.Duration
		wantErr  string
	}{
		{name: "ok", cn: "weft-ca", validFor: 24 * time.Hour},
		{name: "empty common name", cn: "", validFor: time.Hour, wantErr: "commonName"},
		{name: "zero validity", cn: "weft-ca", validFor: 0, wantErr: "validFor"},
		{name: "negative validity", cn: "weft-ca", validFor: -time.Hour, wantErr: "validFor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ca, err := NewCA(tt.cn, tt.validFor)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("NewCA error = %v, want one naming %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewCA: %v", err)
			}
			c := ca.Cert
			if !c.IsCA || !c.BasicConstraintsValid {
				t.Errorf("IsCA=%v BasicConstraintsValid=%v, want both true", c.IsCA, c.BasicConstraintsValid)
			}
			want := x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
			if c.KeyUsage != want {
				t.Errorf("KeyUsage = %v, want %v", c.KeyUsage, want)
			}
			if c.Subject.CommonName != tt.cn {
				t.Errorf("CommonName = %q, want %q", c.Subject.CommonName, tt.cn)
			}
			if c.PublicKeyAlgorithm != x509.ECDSA || c.SignatureAlgorithm != x509.ECDSAWithSHA256 {
				t.Errorf("algorithms = %v/%v, want ECDSA/ECDSAWithSHA256", c.PublicKeyAlgorithm, c.SignatureAlgorithm)
			}
			if err := c.CheckSignatureFrom(c); err != nil {
				t.Errorf("not self-signed: %v", err)
			}
			if len(c.SubjectKeyId) == 0 {
				t.Error("SubjectKeyId is empty")
			}
			if !ca.Key.PublicKey.Equal(c.PublicKey) {
				t.Error("Key does not match certificate")
			}
			if got := mustParseCert(t, ca.CertPEM); !got.Equal(c) {
				t.Error("CertPEM does not encode Cert")
			}
			if d := c.NotAfter.Sub(c.NotBefore); d < tt.validFor || d > tt.validFor+2*time.Minute {
				t.Errorf("validity span = %v, want about %v plus the backdating", d, tt.validFor)
			}
		})
	}
}
