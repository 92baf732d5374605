package pki

import (
	"crypto/tls"
	"io"
	"net"
	"testing"
	"time"
)

func tlsCert(t *testing.T, kp KeyPair) tls.Certificate {
	t.Helper()
	c, err := tls.X509KeyPair(kp.CertPEM, kp.KeyPEM)
	if err != nil {
		t.Fatalf("X509KeyPair: %v", err)
	}
	return c
}

// handshake runs both ends over net.Pipe. The server writes a byte after its
// handshake and the client reads it, because in TLS 1.3 the client finishes
// before the server has judged its certificate; the read is where a rejection
// reaches the client, and it also drains the server's alert off the unbuffered
// pipe so neither side blocks.
func handshake(t *testing.T, serverCfg, clientCfg *tls.Config) (serverErr, clientErr error) {
	t.Helper()
	sc, cc := net.Pipe()
	deadline := time.Now().Add(10 * time.Second)
	sc.SetDeadline(deadline)
	cc.SetDeadline(deadline)

	done := make(chan error, 1)
	go func() {
		srv := tls.Server(sc, serverCfg)
		// Closing the raw pipe, not the TLS conn: both ends sending close_notify
		// on an unbuffered pipe would stall until tls.Conn.Close gives up.
		defer sc.Close()
		if err := srv.Handshake(); err != nil {
			done <- err
			return
		}
		_, err := srv.Write([]byte{'k'})
		done <- err
	}()

	cli := tls.Client(cc, clientCfg)
	clientErr = cli.Handshake()
	if clientErr == nil {
		var b [1]byte
		_, clientErr = io.ReadFull(cli, b[:])
	}
	cc.Close()
	return <-done, clientErr
}

func TestMutualTLS(t *testing.T) {
	ca := mustCA(t, "weft-ca")
	other := mustCA(t, "other-ca")
	server := mustIssue(t, ca, Leaf{CommonName: "kube-apiserver", DNSNames: []string{"localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true, ValidFor: time.Hour})
	goodClient := mustIssue(t, ca, Leaf{CommonName: "admin", Organization: []string{"system:masters"}, Client: true, ValidFor: time.Hour})
	foreignClient := mustIssue(t, other, Leaf{CommonName: "admin", Organization: []string{"system:masters"}, Client: true, ValidFor: time.Hour})
	serverOnly := mustIssue(t, ca, Leaf{CommonName: "impostor", DNSNames: []string{"localhost"}, Server: true, ValidFor: time.Hour})

	tests := []struct {
		name       string
		client     KeyPair
		serverName string
		wantOK     bool
	}{
		{name: "client from same CA", client: goodClient, serverName: "localhost", wantOK: true},
		{name: "client by IP", client: goodClient, serverName: "127.0.0.1", wantOK: true},
		{name: "client from other CA", client: foreignClient, serverName: "localhost"},
		{name: "server-only cert as client", client: serverOnly, serverName: "localhost"},
		{name: "wrong server name", client: goodClient, serverName: "example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var gotCN string
			serverCfg := &tls.Config{
				Certificates: []tls.Certificate{tlsCert(t, server)},
				ClientAuth:   tls.RequireAndVerifyClientCert,
				ClientCAs:    poolOf(ca.Cert),
				MinVersion:   tls.VersionTLS13,
				VerifyConnection: func(cs tls.ConnectionState) error {
					gotCN = cs.PeerCertificates[0].Subject.CommonName
					return nil
				},
			}
			clientCfg := &tls.Config{
				Certificates: []tls.Certificate{tlsCert(t, tt.client)},
				RootCAs:      poolOf(ca.Cert),
				ServerName:   tt.serverName,
				MinVersion:   tls.VersionTLS13,
			}
			serverErr, clientErr := handshake(t, serverCfg, clientCfg)
			if tt.wantOK {
				if serverErr != nil || clientErr != nil {
					t.Fatalf("handshake failed: server=%v client=%v", serverErr, clientErr)
				}
				if gotCN != "admin" {
					t.Errorf("server saw client CN %q, want admin", gotCN)
				}
				return
			}
			if serverErr == nil || clientErr == nil {
				t.Fatalf("handshake should fail on both ends: server=%v client=%v", serverErr, clientErr)
			}
		})
	}
}
