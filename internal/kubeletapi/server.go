// Package kubeletapi serves the part of the kubelet API that `kubectl logs` and `kubectl exec`
// reach through the API server: /containerLogs and /exec on port 10250, over TLS, for clients
// whose certificate the cluster's client CA signed (the API server's kubelet-client certificate).
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
	"sync"
	"time"

	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
)

// ErrNotFound marks a pod or container the node does not have; the server answers 404.
var ErrNotFound = errors.New("not found")

// Pods is what the node runtime provides to the server.
type Pods interface {
	// LogPath returns the log file (CRI log format) of a container's current instance or, with
	// previous, of its last terminated one. An error wrapping ErrNotFound gives 404 with its message.
	LogPath(namespace, pod, container string, previous bool) (string, error)
	// Exec runs cmd in the container's namespaces, wiring the streams: stdin may be nil; with tty,
	// stderr is nil and resize delivers terminal sizes. It returns when the command has exited,
	// with an error wrapping *os/exec.ExitError or a k8s.io/utils/exec.ExitError for a non-zero
	// exit, so that kubectl exits with the same code. ctx ends when the server stops.
	Exec(ctx context.Context, namespace, pod, container string, cmd []string, stdin io.Reader, stdout, stderr io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error
}

// ExitChecker may be implemented by Pods so that `kubectl logs -f` ends, as with the kubelet,
// once the container has exited and its log is read to the end, instead of waiting forever.
type ExitChecker interface {
	ContainerExited(namespace, pod, container string) bool
}

// Server is the node's kubelet API.
type Server struct {
	cfg       Config
	pods      Pods
	log       *slog.Logger
	clientCAs *x509.CertPool
	allowed   map[string]bool
	srv       *http.Server

	mu sync.Mutex
	ln net.Listener
}

// New loads the certificates; nothing listens before Listen or Run.
func New(cfg Config, pods Pods, log *slog.Logger) (*Server, error) {
	cfg.fillDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("kubelet API: %w", err)
	}
	if pods == nil {
		return nil, errors.New("kubelet API: no Pods given")
	}
	cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("kubelet API serving certificate: %w", err)
	}
	caPEM, err := os.ReadFile(cfg.ClientCAFile)
	if err != nil {
		return nil, fmt.Errorf("kubelet API client CA: %w", err)
	}
	clientCAs := x509.NewCertPool()
	if !clientCAs.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("kubelet API client CA %s: no PEM certificate in it", cfg.ClientCAFile)
	}
	s := &Server{cfg: cfg, pods: pods, log: log, clientCAs: clientCAs, allowed: map[string]bool{}}
	for _, u := range cfg.AllowedUsers {
		s.allowed[u] = true
	}
	// exec hijacks the connection for SPDY or WebSocket, which HTTP/2 cannot carry.
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	s.srv = &http.Server{
		Handler:   s.handler(),
		Protocols: &protocols,
		TLSConfig: &tls.Config{
			MinVersion:   tls.VersionTLS12,
			Certificates: []tls.Certificate{cert},
			// The certificate is checked per request rather than in the handshake, so that a
			// missing or foreign one gets a readable 401 instead of a failed handshake.
			ClientAuth: tls.RequestClientCert,
		},
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	return s, nil
}

// Listen binds the address, so that Addr reports the port chosen for port 0. Run calls it if needed.
func (s *Server) Listen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("kubelet API: %w", err)
	}
	s.ln = ln
	return nil
}

// Addr is the bound address after Listen, the configured one before.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return s.ln.Addr().String()
	}
	return s.cfg.Addr
}

// shutdownGrace bounds how long Run waits for log requests to finish after ctx ends.
const shutdownGrace = 5 * time.Second

// Run serves until ctx ends, then shuts down gracefully. Requests see ctx end too, so followed
// logs stop and Exec gets a cancelled context.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Listen(); err != nil {
		return err
	}
	s.srv.BaseContext = func(net.Listener) context.Context { return ctx }
	served := make(chan error, 1)
	go func() { served <- s.srv.ServeTLS(s.ln, "", "") }()
	s.log.Info("serving kubelet API", "addr", s.Addr())

	select {
	case err := <-served:
		return fmt.Errorf("kubelet API on %s: %w", s.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	err := s.srv.Shutdown(sctx)
	if err != nil {
		err = errors.Join(fmt.Errorf("kubelet API shutdown: %w", err), s.srv.Close())
	}
	if serveErr := <-served; !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	return err
}

func (s *Server) handler() http.Handler {
	api := http.NewServeMux()
	api.HandleFunc("GET /containerLogs/{namespace}/{pod}/{container}", s.serveContainerLogs)
	// SPDY clients POST, WebSocket clients GET; the kubelet also accepts the pod UID in the path.
	for _, p := range []string{"/exec/{namespace}/{pod}/{container}", "/exec/{namespace}/{pod}/{uid}/{container}"} {
		api.HandleFunc("GET "+p, s.serveExec)
		api.HandleFunc("POST "+p, s.serveExec)
	}
	// The node's logs, as the kubelet serves them (kubectl get --raw /api/v1/nodes/<node>/proxy/logs/).
	api.Handle("GET /logs/", http.StripPrefix("/logs/", http.FileServer(http.Dir(s.cfg.NodeLogDir))))
	for _, p := range []string{"/attach/", "/portForward/"} {
		api.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, fmt.Sprintf("%s is not served by weft's node runtime: only logs and exec are", p), http.StatusNotFound)
		})
	}
	api.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, fmt.Sprintf("no kubelet API at %s: this node serves /healthz, /containerLogs/, /exec/ and /logs/", r.URL.Path), http.StatusNotFound)
	})

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok")
	})
	mux.Handle("/", s.authenticate(api))
	return mux
}

type userKey struct{}

// authenticate admits requests with a client certificate from the client CA (401 otherwise)
// whose common name is allowed (403 otherwise).
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, err := s.clientUser(r)
		if err != nil {
			s.log.Info("kubelet API request refused", "remote", r.RemoteAddr, "path", r.URL.Path, "err", err)
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		if len(s.allowed) > 0 && !s.allowed[user] {
			s.log.Info("kubelet API request forbidden", "remote", r.RemoteAddr, "path", r.URL.Path, "user", user)
			http.Error(w, fmt.Sprintf("Forbidden (user=%s, path=%s)", user, r.URL.Path), http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userKey{}, user)))
	})
}

func (s *Server) clientUser(r *http.Request) (string, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return "", errors.New("no client certificate")
	}
	leaf := r.TLS.PeerCertificates[0]
	intermediates := x509.NewCertPool()
	for _, c := range r.TLS.PeerCertificates[1:] {
		intermediates.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{
		Roots:         s.clientCAs,
		Intermediates: intermediates,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return "", fmt.Errorf("client certificate %q: %w", leaf.Subject.CommonName, err)
	}
	return leaf.Subject.CommonName, nil
}

func requestUser(r *http.Request) string {
	u, _ := r.Context().Value(userKey{}).(string)
	return u
}
