package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"time"
)

// rrMain is the request/response server or client, run inside a namespace by rr. One
// transaction is a request of size bytes answered by a response of size bytes, one at a time,
// as netperf's TCP_RR does; with -connect every transaction opens a new connection (TCP_CRR).
func rrMain(mode string, args []string) error {
	fs := flag.NewFlagSet(mode, flag.ContinueOnError)
	port := fs.String("port", "5201", "server: port to listen on")
	addr := fs.String("addr", "", "client: server address:port")
	size := fs.Int("size", 1, "bytes per request and per response")
	d := fs.Duration("duration", 5*time.Second, "client: how long to run")
	connect := fs.Bool("connect", false, "a new connection per transaction")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch mode {
	case "rr-server":
		return rrServe(*port, *size, *connect)
	case "rr-client":
		n, elapsed, err := rrClient(*addr, *size, *d, *connect)
		if err != nil {
			return err
		}
		fmt.Printf("%.1f\n", float64(n)/elapsed.Seconds())
		return nil
	}
	return fmt.Errorf("unknown mode %q", mode)
}

func rrServe(port string, size int, connect bool) error {
	l, err := net.Listen("tcp", ":"+port)
	if err != nil {
		return err
	}
	fmt.Println("ready")
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			buf := make([]byte, size)
			for {
				if _, err := io.ReadFull(c, buf); err != nil {
					return
				}
				if _, err := c.Write(buf); err != nil {
					return
				}
				// The server closes first, so TIME_WAIT piles up on its side and the client
				// never runs out of ephemeral ports.
				if connect {
					return
				}
			}
		}()
	}
}

func rrClient(addr string, size int, d time.Duration, connect bool) (int, time.Duration, error) {
	buf := make([]byte, size)
	var c net.Conn
	var err error
	n, start := 0, time.Now()
	for time.Since(start) < d {
		if c == nil {
			if c, err = net.Dial("tcp", addr); err != nil {
				return n, 0, err
			}
		}
		if _, err := c.Write(buf); err != nil {
			return n, 0, err
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			return n, 0, err
		}
		if connect {
			// Wait for the server's FIN: the transaction ends when the connection does.
			if _, err := c.Read(buf[:1]); !errors.Is(err, io.EOF) {
				return n, 0, fmt.Errorf("expected the server to close, got %v", err)
			}
			c.Close()
			c = nil
		}
		n++
	}
	if c != nil {
		c.Close()
	}
	return n, time.Since(start), nil
}
