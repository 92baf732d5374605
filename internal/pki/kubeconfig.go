package pki

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strconv"
)

// Kubeconfig renders a kubeconfig with one cluster, one user and one context,
// all named name, embedding the CA and the client pair as base64 data so the
// file works wherever it is copied.
//
// The YAML is written by hand to keep this package free of dependencies. Name
// and server are always double-quoted: Go's quoting escapes form valid YAML
// double-quoted scalars, so a name like "on" or "a: b" cannot change meaning.
func Kubeconfig(name, server string, caPEM []byte, client KeyPair) []byte {
	n := strconv.Quote(name)
	b64 := base64.StdEncoding.EncodeToString
	var buf bytes.Buffer
	fmt.Fprintf(&buf, `apiVersion: v1
kind: Config
clusters:
- name: %s
  cluster:
    certificate-authority-data: %s
    server: %s
contexts:
- name: %s
  context:
    cluster: %s
    user: %s
current-context: %s
preferences: {}
users:
- name: %s
  user:
    client-certificate-data: %s
    client-key-data: %s
`, n, b64(caPEM), strconv.Quote(server), n, n, n, n, n, b64(client.CertPEM), b64(client.KeyPEM))
	return buf.Bytes()
}
