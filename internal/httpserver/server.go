// Package httpserver is the small web server the lab runs for web images (nginx, httpd ...) and
// for the external host: it answers every request with who it is and who asked, so a user sees
// at once which pod answered and which source address arrived.
package httpserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxBytes bounds /bytes/N so a typo cannot make the server stream forever.
const maxBytes = 1 << 30

// Handler answers "<name>: you came from <client address>", and /bytes/N with N bytes, for
// transfers that show full-size packets crossing the network.
func Handler(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n, ok := strings.CutPrefix(r.URL.Path, "/bytes/"); ok {
			size, err := strconv.Atoi(n)
			if err != nil || size < 0 || size > maxBytes {
				http.Error(w, fmt.Sprintf("/bytes/%s: give a size from 0 to %d", n, maxBytes), http.StatusBadRequest)
				return
			}
			w.Header().Set("Content-Length", strconv.Itoa(size))
			_, _ = io.CopyN(w, zeros{}, int64(size))
			return
		}
		ip, _, _ := net.SplitHostPort(r.RemoteAddr)
		fmt.Fprintf(w, "%s: you came from %s\n", name, ip)
	})
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// answerUDP replies to every datagram with the same sentence the HTTP handler gives, so UDP
// paths (and whether they were masqueraded) can be checked the same way.
func answerUDP(conn net.PacketConn, name string) {
	buf := make([]byte, 2048)
	for {
		_, from, err := conn.ReadFrom(buf)
		if err != nil {
			return
		}
		ip, _, _ := net.SplitHostPort(from.String())
		_, _ = conn.WriteTo([]byte(fmt.Sprintf("%s: you came from %s\n", name, ip)), from)
	}
}

// Serve listens on every port, TCP (HTTP) and UDP, on all addresses of both families, until ctx ends.
func Serve(ctx context.Context, name string, ports []int) error {
	if len(ports) == 0 {
		return errors.New("--ports: give at least one port")
	}
	errc := make(chan error, len(ports))
	var servers []*http.Server
	var udp []net.PacketConn
	defer func() {
		for _, c := range udp {
			c.Close()
		}
	}()
	for _, port := range ports {
		conn, err := net.ListenPacket("udp", net.JoinHostPort("", strconv.Itoa(port)))
		if err != nil {
			return fmt.Errorf("serve UDP on port %d: %w", port, err)
		}
		udp = append(udp, conn)
		go answerUDP(conn, name)
		srv := &http.Server{Addr: net.JoinHostPort("", strconv.Itoa(port)), Handler: Handler(name), ReadHeaderTimeout: 5 * time.Second}
		servers = append(servers, srv)
		go func() {
			if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("serve HTTP on port %d: %w", port, err)
			}
		}()
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, srv := range servers {
		_ = srv.Shutdown(shutdown)
	}
	return nil
}
