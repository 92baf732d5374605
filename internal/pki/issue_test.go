package pki

import (
	"crypto/x509"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestIssueVerifies(t *testing.T) {
	ca := mustCA(t, "weft-ca")
	server := mustIssue(t, ca, Leaf{
		CommonName: "kube-apiserver",
		DNSNames:   []string{"localhost", "kubernetes.default.svc"},
		IPs:        []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		Server:     true,
		ValidFor:   time.Hour,
	})
	client := mustIssue(t, ca, Leaf{CommonName: "admin", Organization: []string{"system:masters"}, Client: true, ValidFor: time.Hour})
	both := mustIssue(t, ca, Leaf{CommonName: "etcd-peer", DNSNames: []string{"etcd"}, Server: true, Client: true, ValidFor: time.Hour})
	other := mustCA(t, "other-ca")

	tests := []struct {
		name    string
		pair    KeyPair
		roots   *CA
		usage   x509.ExtKeyUsage
		host    string
		wantErr bool
	}{
		{name: "server by DNS name", pair: server, roots: ca, usage: x509.ExtKeyUsageServerAuth, host: "kubernetes.default.svc"},
		{name: "server by IPv4", pair: server, roots: ca, usage: x509.ExtKeyUsageServerAuth, host: "127.0.0.1"},
		{name: "server by IPv6", pair: server, roots: ca, usage: x509.ExtKeyUsageServerAuth, host: "::1"},
		{name: "server wrong host", pair: server, roots: ca, usage: x509.ExtKeyUsageServerAuth, host: "example.com", wantErr: true},
		{name: "server used as client", pair: server, roots: ca, usage: x509.ExtKeyUsageClientAuth, wantErr: true},
		{name: "client", pair: client, roots: ca, usage: x509.ExtKeyUsageClientAuth},
		{name: "client used as server", pair: client, roots: ca, usage: x509.ExtKeyUsageServerAuth, wantErr: true},
		{name: "dual-use as server", pair: both, roots: ca, usage: x509.ExtKeyUsageServerAuth, host: "etcd"},
		{name: "dual-use as client", pair: both, roots: ca, usage: x509.ExtKeyUsageClientAuth},
		{name: "untrusted CA", pair: client, roots: other, usage: x509.ExtKeyUsageClientAuth, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cert := mustParseCert(t, tt.pair.CertPEM)
			_, err := cert.Verify(x509.VerifyOptions{
				Roots:     poolOf(tt.roots.Cert),
				DNSName:   tt.host,
				KeyUsages: []x509.ExtKeyUsage{tt.usage},
			})
			if (err != nil) != tt.wantErr {
				t.Fatalf("Verify error = %v, wantErr %v", err, tt.wantErr)
			}
		})
	}
}

func TestIssueFields(t *testing.T) {
	ca := mustCA(t, "weft-ca")
	before := time.Now()
	kp := mustIssue(t, ca, Leaf{
		CommonName:   "system:node:lab-1",
		Organization: []string{"system:nodes"},
		Client:       true,
		ValidFor:     time.Hour,
	})
	cert := mustParseCert(t, kp.CertPEM)

	if cert.Subject.CommonName != "system:node:lab-1" {
		t.Errorf("CN = %q", cert.Subject.CommonName)
	}
	if !slices.Equal(cert.Subject.Organization, []string{"system:nodes"}) {
		t.Errorf("O = %q, want exactly [system:nodes]", cert.Subject.Organization)
	}
	if cert.IsCA {
		t.Error("leaf is a CA")
	}
	if !slices.Equal(cert.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) {
		t.Errorf("ExtKeyUsage = %v, want [ClientAuth]", cert.ExtKeyUsage)
	}
	if cert.PublicKeyAlgorithm != x509.ECDSA {
		t.Errorf("PublicKeyAlgorithm = %v", cert.PublicKeyAlgorithm)
	}
	if len(cert.SubjectKeyId) == 0 {
		t.Error("SubjectKeyId is empty")
	}
	if !slices.Equal(cert.AuthorityKeyId, ca.Cert.SubjectKeyId) {
		t.Errorf("AuthorityKeyId = %x, want CA's %x", cert.AuthorityKeyId, ca.Cert.SubjectKeyId)
	}
	if cert.SerialNumber.Sign() <= 0 || cert.SerialNumber.BitLen() > 128 {
		t.Errorf("serial %v not in (0, 2^128)", cert.SerialNumber)
	}
	if lag := before.Sub(cert.NotBefore); lag < 59*time.Second || lag > 2*time.Minute {
		t.Errorf("NotBefore is %v before issuing, want about a minute", lag)
	}

	second := mustParseCert(t, mustIssue(t, ca, Leaf{CommonName: "x", Client: true, ValidFor: time.Hour}).CertPEM)
	if second.SerialNumber.Cmp(cert.SerialNumber) == 0 {
		t.Error("two leaves share a serial number")
	}
	if slices.Equal(second.SubjectKeyId, cert.SubjectKeyId) {
		t.Error("two leaves share a key")
	}
}

func TestIssueClampsToCAExpiry(t *testing.T) {
	ca := mustCA(t, "weft-ca")
	cert := mustParseCert(t, mustIssue(t, ca, Leaf{CommonName: "long", Client: true, ValidFor: 1000 * time.Hour}).CertPEM)
	if cert.NotAfter.After(ca.Cert.NotAfter) {
		t.Errorf("leaf NotAfter %v outlives CA NotAfter %v", cert.NotAfter, ca.Cert.NotAfter)
	}
}

func TestIssueRejectsBadLeaf(t *testing.T) {
	ca := mustCA(t, "weft-ca")
	good := Leaf{CommonName: "ok", DNSNames: []string{"localhost"}, Server: true, Client: true, ValidFor: time.Hour}
	tests := []struct {
		name   string
		modify func(*Leaf)
		field  string
	}{
		{name: "empty CommonName", modify: func(l *Leaf) { l.CommonName = "" }, field: "CommonName"},
		{name: "no usage", modify: func(l *Leaf) { l.Server, l.Client = false, false }, field: "Server/Client"},
		{name: "server without SANs", modify: func(l *Leaf) { l.DNSNames = nil }, field: "DNSNames/IPs"},
		{name: "zero ValidFor", modify: func(l *Leaf) { l.ValidFor = 0 }, field: "ValidFor"},
		{name: "negative ValidFor", modify: func(l *Leaf) { l.ValidFor = -time.Second }, field: "ValidFor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := good
			tt.modify(&l)
			kp, err := ca.Issue(l)
			if err == nil {
				t.Fatalf("Issue accepted %+v", l)
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field {
				t.Fatalf("error %v does not wrap a FieldError for %q", err, tt.field)
			}
			if !strings.Contains(err.Error(), tt.field) {
				t.Errorf("error %q does not name %q", err, tt.field)
			}
			if kp.CertPEM != nil || kp.KeyPEM != nil {
				t.Error("Issue returned material alongside an error")
			}
		})
	}

	t.Run("client without SANs is fine", func(t *testing.T) {
		if _, err := ca.Issue(Leaf{CommonName: "c", Client: true, ValidFor: time.Hour}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("server with only an IP is fine", func(t *testing.T) {
		l := Leaf{CommonName: "s", IPs: []net.IP{net.IPv4(10, 0, 0, 1)}, Server: true, ValidFor: time.Hour}
		if _, err := ca.Issue(l); err != nil {
			t.Fatal(err)
		}
	})
}
