package lab

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/weftnet/weft/internal/netns"
)

// forwardAPI accepts on the host's loopback and connects each client to the API server inside
// the control plane's namespace. This is the lab's only footprint in the host's network.
func forwardAPI(ctx context.Context, l net.Listener, cpNetNS string, port int, log *slog.Logger) {
	go func() {
		<-ctx.Done()
		l.Close()
	}()
	target := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for {
		conn, err := l.Accept()
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				log.Error("API forward stopped", "err", err)
			}
			return
		}
		go func() {
			defer conn.Close()
			var upstream net.Conn
			err := netns.Do(netns.Path(cpNetNS), func() (err error) {
				// The socket is created on this thread, inside the namespace, and stays there.
				upstream, err = net.DialTimeout("tcp", target, 5*time.Second)
				return err
			})
			if err != nil {
				log.Debug("API server not reachable", "err", err)
				return
			}
			defer upstream.Close()
			splice(conn, upstream)
		}()
	}
}

// splice copies both ways until either side closes, then closes both.
func splice(a, b net.Conn) {
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go cp(a, b)
	go cp(b, a)
	<-done
	<-done
}
