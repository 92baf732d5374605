package kubeletapi

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weftnet/weft/internal/pki"
	"k8s.io/client-go/rest"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
)

const apiServerUser = "kube-apiserver-kubelet-client"

// testPKI is a cluster CA with the kubelet's serving pair, the API server's client pair, a node's
// client pair from the same CA, and a client pair from an unrelated CA.
type testPKI struct {
	dir               string
	caPEM             []byte
	apiServer, node   pki.KeyPair
	foreign           pki.KeyPair
	certFile, keyFile string
	clientCAFile      string
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	dir := t.TempDir()
	ca, err := pki.NewCA("test-cluster-ca", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	other, err := pki.NewCA("other-ca", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(ca *pki.CA, l pki.Leaf) pki.KeyPair {
		l.ValidFor = time.Hour
		kp, err := ca.Issue(l)
		if err != nil {
			t.Fatal(err)
		}
		return kp
	}
	p := testPKI{
		dir:          dir,
		caPEM:        ca.CertPEM,
		apiServer:    issue(ca, pki.Leaf{CommonName: apiServerUser, Client: true}),
		node:         issue(ca, pki.Leaf{CommonName: "system:node:other", Organization: []string{"system:nodes"}, Client: true}),
		foreign:      issue(other, pki.Leaf{CommonName: apiServerUser, Client: true}),
		certFile:     filepath.Join(dir, "kubelet.crt"),
		keyFile:      filepath.Join(dir, "kubelet.key"),
		clientCAFile: filepath.Join(dir, "ca.crt"),
	}
	serving := issue(ca, pki.Leaf{CommonName: "node1", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true})
	if err := serving.WriteFiles(p.certFile, p.keyFile); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.clientCAFile, ca.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// httpClient trusts the test CA and presents kp, or no certificate when kp is nil.
func (p testPKI) httpClient(t *testing.T, kp *pki.KeyPair) *http.Client {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(p.caPEM)
	cfg := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	if kp != nil {
		cert, err := tls.X509KeyPair(kp.CertPEM, kp.KeyPEM)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	tr := &http.Transport{TLSClientConfig: cfg}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// restConfig is what the API server holds towards a kubelet: its CA and kubelet-client pair.
func (p testPKI) restConfig(host string) *rest.Config {
	return &rest.Config{
		Host: host,
		TLSClientConfig: rest.TLSClientConfig{
			CAData: p.caPEM, CertData: p.apiServer.CertPEM, KeyData: p.apiServer.KeyPEM,
		},
	}
}

// startServer runs a server on a free loopback port until the test ends or stop is called; stop
// reports whether Run returned cleanly and promptly.
func startServer(t *testing.T, p testPKI, pods Pods, mutate func(*Config)) (base string, stop func() error) {
	t.Helper()
	cfg := Defaults()
	cfg.Addr = "127.0.0.1:0"
	cfg.CertFile, cfg.KeyFile, cfg.ClientCAFile = p.certFile, p.keyFile, p.clientCAFile
	cfg.LogPollInterval = 20 * time.Millisecond
	if mutate != nil {
		mutate(&cfg)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	s, err := New(cfg, pods, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	stop = sync.OnceValue(func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			return errors.New("run did not return after its context ended")
		}
	})
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return "https://" + s.Addr(), stop
}

// fakePods serves log files from a map and runs exec commands as local processes.
type fakePods struct {
	logs   map[string]string // "ns/pod/container", with "#previous" for the last instance
	exited atomic.Bool
}

func (f *fakePods) LogPath(namespace, pod, container string, previous bool) (string, error) {
	key := namespace + "/" + pod + "/" + container
	if previous {
		key += "#previous"
	}
	p, ok := f.logs[key]
	if !ok {
		return "", fmt.Errorf("container %q of pod %s/%s: %w", container, namespace, pod, ErrNotFound)
	}
	return p, nil
}

func (f *fakePods) ContainerExited(string, string, string) bool { return f.exited.Load() }

// Exec runs cmd locally; "resize" with a tty instead prints the first terminal size received.
func (f *fakePods) Exec(ctx context.Context, namespace, pod, container string, cmd []string, stdin io.Reader, stdout, stderr io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error {
	if pod != "web" {
		return fmt.Errorf("pod %s/%s: %w", namespace, pod, ErrNotFound)
	}
	if tty && cmd[0] == "resize" {
		select {
		case size := <-resize:
			_, err := fmt.Fprintf(stdout, "%dx%d", size.Width, size.Height)
			return err
		case <-time.After(5 * time.Second):
			return errors.New("no terminal size received")
		}
	}
	c := exec.CommandContext(ctx, cmd[0], cmd[1:]...)
	if stdin != nil {
		c.Stdin = stdin
	}
	if stdout != nil {
		c.Stdout = stdout
	}
	if stderr != nil {
		c.Stderr = stderr
	}
	c.WaitDelay = 2 * time.Second
	return c.Run()
}
