package httpserver

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestHandlerSaysWhoAnsweredAndWhoAsked(t *testing.T) {
	srv := httptest.NewServer(Handler("web-1"))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if got := string(b); got != "web-1: you came from 127.0.0.1\n" {
		t.Errorf("answer %q", got)
	}
}

func TestServeStopsWithContext(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, "p", []int{port}) }()
	var body string
	for i := 0; i < 50; i++ {
		if resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/"); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.HasPrefix(body, "p: you came from") {
		t.Errorf("served %q", body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve after cancel: %v", err)
	}
	if err := Serve(context.Background(), "p", nil); err == nil {
		t.Error("Serve with no ports should fail")
	}
}

func TestBytesAndUDP(t *testing.T) {
	srv := httptest.NewServer(Handler("web-1"))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/bytes/1048577")
	if err != nil {
		t.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if n != 1048577 {
		t.Errorf("/bytes/1048577 sent %d bytes", n)
	}
	if resp, err := http.Get(srv.URL + "/bytes/-1"); err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("/bytes/-1: want 400 Bad Request, got %v %v", resp, err)
	}

	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go answerUDP(conn, "u")
	defer conn.Close()
	c, err := net.Dial("udp", conn.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("hi")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	n2, err := c.Read(buf)
	if err != nil || string(buf[:n2]) != "u: you came from 127.0.0.1\n" {
		t.Errorf("UDP answer %q, %v", buf[:n2], err)
	}
}
