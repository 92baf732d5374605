package controlplane

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"net/netip"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/clientcmd"
)

func TestKubeProxyCredentialsNameTheNode(t *testing.T) {
	c := Config{ClusterName: "weft-t", Dir: t.TempDir(), AdvertiseAddress: netip.MustParseAddr("192.168.1.2"), ClusterDomain: "cluster.local"}
	nodes := []Node{{Name: "node-1", IPs: []netip.Addr{netip.MustParseAddr("192.168.1.11")}}}
	ep := Endpoints{Host: "https://127.0.0.1:6443", ControlPlane: "https://127.0.0.1:6443", LAN: "https://192.168.1.2:6443"}
	if err := WriteCredentials(c, ep, nodes, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteKubeProxyCredentials(c, ep.LAN, nodes); err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.LoadFromFile(c.KubeProxyKubeconfig("node-1"))
	if err != nil {
		t.Fatal(err)
	}
	if server := cfg.Clusters["weft-t"].Server; server != ep.LAN {
		t.Errorf("server = %s, want the LAN endpoint %s", server, ep.LAN)
	}
	block, _ := pem.Decode(cfg.AuthInfos["weft-t"].ClientCertificateData)
	if block == nil {
		t.Fatal("no client certificate in the kubeconfig")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if cert.Subject.CommonName != "weft:kube-proxy:node-1" || !slices.Equal(cert.Subject.Organization, []string{KubeProxyGroup}) {
		t.Errorf("subject %v, want user weft:kube-proxy:node-1 in group %s", cert.Subject, KubeProxyGroup)
	}
}

func TestKubeProxyRBACBindsNodeProxier(t *testing.T) {
	client := fake.NewClientset()
	for range 2 { // a second run finds the binding there and is fine with it
		if err := EnsureKubeProxyRBAC(context.Background(), client); err != nil {
			t.Fatal(err)
		}
	}
	b, err := client.RbacV1().ClusterRoleBindings().Get(context.Background(), kubeProxyBinding, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if b.RoleRef.Name != "system:node-proxier" || len(b.Subjects) != 1 || b.Subjects[0].Name != KubeProxyGroup {
		t.Errorf("binding %+v, want system:node-proxier for group %s", b, KubeProxyGroup)
	}
}
