package kubeletapi

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/transport/spdy"
	"k8s.io/client-go/util/exec"
)

// executors are the ways a client reaches /exec: SPDY as the API server does (it offers v5 to v1
// and gets v4), SPDY limited to v4, and WebSocket v5 as kubectl speaks to the API server.
var executors = []struct {
	name string
	new  func(cfg *rest.Config, u *url.URL) (remotecommand.Executor, error)
}{
	{"SPDY", func(cfg *rest.Config, u *url.URL) (remotecommand.Executor, error) {
		return remotecommand.NewSPDYExecutor(cfg, "POST", u)
	}},
	{"SPDY v4", func(cfg *rest.Config, u *url.URL) (remotecommand.Executor, error) {
		tr, up, err := spdyTransport(cfg)
		if err != nil {
			return nil, err
		}
		return remotecommand.NewSPDYExecutorForProtocols(tr, up, "POST", u, "v4.channel.k8s.io")
	}},
	{"WebSocket v5", func(cfg *rest.Config, u *url.URL) (remotecommand.Executor, error) {
		return remotecommand.NewWebSocketExecutor(cfg, "GET", u.String())
	}},
}

type execCase struct {
	name       string
	query      string
	stdin      string
	tty        bool
	wantStdout string
	wantStderr string
	wantCode   int    // expected exit code, 0 for success
	wantErr    string // expected error other than an exit code
}

func TestExec(t *testing.T) {
	p := newTestPKI(t)
	base, _ := startServer(t, p, &fakePods{}, nil)
	cases := []execCase{
		{name: "stdout and exit code", query: cmdQuery("sh", "-c", "printf hello; printf oops >&2; exit 3") + "&output=1&error=1",
			wantStdout: "hello", wantStderr: "oops", wantCode: 3},
		{name: "success", query: cmdQuery("echo", "hello") + "&output=1", wantStdout: "hello\n"},
		{name: "stdin", query: cmdQuery("cat") + "&input=1&output=1&error=1", stdin: "piped through\n", wantStdout: "piped through\n"},
		{name: "killed", query: cmdQuery("sh", "-c", "kill -9 $$") + "&output=1", wantCode: 137},
		{name: "tty resize", query: cmdQuery("resize") + "&output=1&tty=1", tty: true, wantStdout: "80x24"},
		{name: "unknown pod", query: cmdQuery("true") + "&output=1", wantErr: "not found"},
	}
	for _, ex := range executors {
		for _, tc := range cases {
			t.Run(ex.name+"/"+tc.name, func(t *testing.T) {
				pod := "web"
				if tc.name == "unknown pod" {
					pod = "db"
				}
				u, err := url.Parse(base + "/exec/default/" + pod + "/app?" + tc.query)
				if err != nil {
					t.Fatal(err)
				}
				e, err := ex.new(p.restConfig(base), u)
				if err != nil {
					t.Fatal(err)
				}
				runExec(t, e, tc)
			})
		}
	}
}

func runExec(t *testing.T, e remotecommand.Executor, tc execCase) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	// The streams a client opens must match the query, as when the API server builds both.
	opts := remotecommand.StreamOptions{Stdout: &stdout, Tty: tc.tty}
	if strings.Contains(tc.query, "error=1") {
		opts.Stderr = &stderr
	}
	if tc.stdin != "" {
		opts.Stdin = strings.NewReader(tc.stdin)
	}
	if tc.tty {
		opts.TerminalSizeQueue = &oneSize{size: &remotecommand.TerminalSize{Width: 80, Height: 24}}
	}
	err := e.StreamWithContext(ctx, opts)

	var exit exec.CodeExitError
	switch {
	case tc.wantErr != "":
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Fatalf("exec error = %v, want one containing %q", err, tc.wantErr)
		}
	case tc.wantCode != 0:
		if !errors.As(err, &exit) || exit.Code != tc.wantCode {
			t.Fatalf("exec error = %#v, want exec.CodeExitError with code %d", err, tc.wantCode)
		}
	case err != nil:
		t.Fatalf("exec: %v", err)
	}
	if stdout.String() != tc.wantStdout || stderr.String() != tc.wantStderr {
		t.Errorf("stdout, stderr = %q, %q; want %q, %q", stdout.String(), stderr.String(), tc.wantStdout, tc.wantStderr)
	}
}

func cmdQuery(cmd ...string) string {
	q := url.Values{"command": cmd}
	return q.Encode()
}

// oneSize reports one terminal size, then that there are no more.
type oneSize struct{ size *remotecommand.TerminalSize }

func (q *oneSize) Next() *remotecommand.TerminalSize {
	s := q.size
	q.size = nil
	return s
}

func TestExecRefusesClientsWithoutCertificate(t *testing.T) {
	p := newTestPKI(t)
	base, _ := startServer(t, p, &fakePods{}, nil)
	u, _ := url.Parse(base + "/exec/default/web/app?" + cmdQuery("true") + "&output=1")
	for _, ex := range executors {
		t.Run(ex.name, func(t *testing.T) {
			cfg := p.restConfig(base)
			cfg.CertData, cfg.KeyData = nil, nil
			e, err := ex.new(cfg, u)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err = e.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &bytes.Buffer{}})
			if err == nil || !strings.Contains(err.Error(), "401") && !strings.Contains(err.Error(), "Unauthorized") {
				t.Fatalf("exec without a client certificate: %v, want 401", err)
			}
		})
	}
}

func TestExecBadRequest(t *testing.T) {
	p := newTestPKI(t)
	base, _ := startServer(t, p, &fakePods{}, nil)
	c := p.httpClient(t, &p.apiServer)
	for query, want := range map[string]string{
		"output=1":       "no command given",
		cmdQuery("true"): "at least 1 of stdin, stdout, stderr",
	} {
		code, body := get(t, c, base+"/exec/default/web/app?"+query)
		if code != 400 || !strings.Contains(body, want) {
			t.Errorf("GET exec?%s = %d %q, want 400 with %q", query, code, body, want)
		}
	}
}

func spdyTransport(cfg *rest.Config) (http.RoundTripper, spdy.Upgrader, error) {
	return spdy.RoundTripperFor(cfg)
}

func TestShutdownEndsExec(t *testing.T) {
	for _, ex := range executors {
		t.Run(ex.name, func(t *testing.T) {
			p := newTestPKI(t)
			base, stop := startServer(t, p, &fakePods{}, nil)
			u, _ := url.Parse(base + "/exec/default/web/app?" + cmdQuery("sh", "-c", "echo started; exec sleep 60") + "&output=1")
			e, err := ex.new(p.restConfig(base), u)
			if err != nil {
				t.Fatal(err)
			}
			started := make(chan struct{})
			done := make(chan error, 1)
			go func() {
				done <- e.StreamWithContext(context.Background(), remotecommand.StreamOptions{Stdout: signalWriter(started)})
			}()
			select {
			case <-started:
			case <-time.After(10 * time.Second):
				t.Fatal("the command did not start")
			}
			if err := stop(); err != nil {
				t.Fatalf("Run: %v", err)
			}
			select {
			case err := <-done:
				var exit exec.CodeExitError
				if !errors.As(err, &exit) || exit.Code != 137 {
					t.Errorf("exec ended with %v, want the command killed (137)", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("exec went on after the server stopped")
			}
		})
	}
}

// signalWriter closes ch at the first write.
type signalWriter chan struct{}

func (w signalWriter) Write(p []byte) (int, error) {
	select {
	case <-w:
	default:
		close(w)
	}
	return len(p), nil
}
