package lab

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"
)

// ServeExternalHost is the service of the lab's external host (192.168.2.10): plain HTTP that
// tells each client which address it came from, so a user sees whether traffic was masqueraded.
func ServeExternalHost(ctx context.Context, addr string) error {
	host, _ := os.Hostname()
	srv := &http.Server{
		Addr:              addr,
		ReadHeaderTimeout: 5 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ip, _, _ := net.SplitHostPort(r.RemoteAddr)
			fmt.Fprintf(w, "weft lab external host %s: you came from %s\n", host, ip)
		}),
	}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		return fmt.Errorf("external host HTTP server on %s: %w", addr, err)
	}
	return nil
}
