package pki

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
)

// NewServiceAccountKey returns a PKCS#8 private key PEM ("PRIVATE KEY") for
// kube-apiserver --service-account-signing-key-file and the matching PKIX public
// key PEM ("PUBLIC KEY") for --service-account-key-file. The key is independent
// of any CA: tokens are JWTs, not certificates.
func NewServiceAccountKey() (keyPEMBytes, pubPEM []byte, err error) {
	key, err := newKey()
	if err != nil {
		return nil, nil, fmt.Errorf("service account key: %w", err)
	}
	keyPEMBytes, err = keyPEM(key)
	if err != nil {
		return nil, nil, fmt.Errorf("service account key: %w", err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, nil, fmt.Errorf("service account key: marshal public key: %w", err)
	}
	return keyPEMBytes, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}
