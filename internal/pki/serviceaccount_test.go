package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"testing"
)

func TestNewServiceAccountKey(t *testing.T) {
	keyPEM, pubPEM, err := NewServiceAccountKey()
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil || kb.Type != "PRIVATE KEY" {
		t.Fatalf("private key PEM block = %v, want type PRIVATE KEY", kb)
	}
	pb, _ := pem.Decode(pubPEM)
	if pb == nil || pb.Type != "PUBLIC KEY" {
		t.Fatalf("public key PEM block = %v, want type PUBLIC KEY", pb)
	}
	priv, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		t.Fatalf("ParsePKCS8PrivateKey: %v", err)
	}
	pub, err := x509.ParsePKIXPublicKey(pb.Bytes)
	if err != nil {
		t.Fatalf("ParsePKIXPublicKey: %v", err)
	}
	ec, ok := priv.(*ecdsa.PrivateKey)
	if !ok || ec.Curve != elliptic.P256() {
		t.Fatalf("private key is %T, want ECDSA P-256", priv)
	}
	if !ec.PublicKey.Equal(pub) {
		t.Fatal("public key does not match private key")
	}

	key2, _, err := NewServiceAccountKey()
	if err != nil {
		t.Fatal(err)
	}
	if string(key2) == string(keyPEM) {
		t.Fatal("two calls returned the same key")
	}
}
