// Package httpserver is the small web server the lab runs for web images (nginx, httpd ...) and
// for the external host: it answers every request with who it is and who asked, so a user sees
// at once which pod answered and which source address arrived.
package httpserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Handler answers "<name>: you came from <client address>".
func Handler(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip, _, _ := net.SplitHostPort(r.RemoteAddr)
		fmt.Fprintf(w, "%s: you came from %s\n", name, ip)
	})
}

// Serve listens on every port, on all addresses of both families, until ctx ends.
func Serve(ctx context.Context, name string, ports []int) error {
	if len(ports) == 0 {
		return errors.New("--ports: give at least one port")
	}
	errc := make(chan error, len(ports))
	var servers []*http.Server
	for _, port := range ports {
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
