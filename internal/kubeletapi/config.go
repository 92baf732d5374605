package kubeletapi

import (
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/spf13/pflag"
)

// Port is where the API server expects the kubelet API.
const Port = 10250

// Config of the server. Zero durations take the value from Defaults.
type Config struct {
	// Addr is host:port to listen on, e.g. "192.168.1.11:10250" or ":10250"; port 0 picks a free port.
	Addr string
	// CertFile and KeyFile hold the serving certificate.
	CertFile, KeyFile string
	// ClientCAFile: only clients with a certificate signed by this CA are served (401 otherwise).
	ClientCAFile string
	// AllowedUsers are the common names of client certificates that may use the API (403
	// otherwise), e.g. the API server's kubelet-client certificate. Empty allows every
	// certificate ClientCAFile signed; beware that in the lab that CA also signs every node's
	// and the admin's certificate.
	AllowedUsers []string
	// StreamIdleTimeout closes an exec session with no traffic for this long (the kubelet's
	// --streaming-connection-idle-timeout).
	StreamIdleTimeout time.Duration
	// StreamCreationTimeout bounds how long an SPDY client may take to open its streams.
	StreamCreationTimeout time.Duration
	// LogPollInterval is how often a followed log file is checked for new lines.
	LogPollInterval time.Duration
	// NodeLogDir is what /logs/ serves, as the kubelet serves the node's /var/log.
	NodeLogDir string
}

// Defaults are the kubelet's: port 10250, 4 h idle streams, 30 s to create streams.
func Defaults() Config {
	return Config{
		Addr:                  fmt.Sprintf(":%d", Port),
		StreamIdleTimeout:     4 * time.Hour,
		StreamCreationTimeout: 30 * time.Second,
		LogPollInterval:       250 * time.Millisecond,
	}
}

// AddFlags binds the configuration to fs, with the kubelet's flag names where it has one.
func (c *Config) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.Addr, "kubelet-api-address", c.Addr, "host:port on which to serve the kubelet API (logs, exec)")
	fs.StringVar(&c.CertFile, "tls-cert-file", c.CertFile, "serving certificate of the kubelet API")
	fs.StringVar(&c.KeyFile, "tls-private-key-file", c.KeyFile, "key of --tls-cert-file")
	fs.StringVar(&c.ClientCAFile, "client-ca-file", c.ClientCAFile, "CA that signs the client certificates the kubelet API accepts")
	fs.StringSliceVar(&c.AllowedUsers, "kubelet-api-allowed-users", c.AllowedUsers, "client certificate common names allowed to use the kubelet API (empty: all that --client-ca-file signed)")
	fs.DurationVar(&c.StreamIdleTimeout, "streaming-connection-idle-timeout", c.StreamIdleTimeout, "close exec sessions idle for this long")
}

// Validate reports every unusable setting.
func (c *Config) Validate() error {
	var errs []error
	if _, port, err := net.SplitHostPort(c.Addr); err != nil || port == "" {
		errs = append(errs, fmt.Errorf("kubelet API address %q: want host:port, e.g. \":%d\"", c.Addr, Port))
	}
	for _, f := range []struct{ name, path string }{
		{"--tls-cert-file", c.CertFile}, {"--tls-private-key-file", c.KeyFile}, {"--client-ca-file", c.ClientCAFile},
	} {
		if f.path == "" {
			errs = append(errs, fmt.Errorf("%s: required", f.name))
		} else if _, err := os.Stat(f.path); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.name, err))
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"stream idle timeout", c.StreamIdleTimeout},
		{"stream creation timeout", c.StreamCreationTimeout},
		{"log poll interval", c.LogPollInterval},
	} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s %s: must not be negative", d.name, d.v))
		}
	}
	return errors.Join(errs...)
}

func (c *Config) fillDefaults() {
	d := Defaults()
	if c.StreamIdleTimeout == 0 {
		c.StreamIdleTimeout = d.StreamIdleTimeout
	}
	if c.StreamCreationTimeout == 0 {
		c.StreamCreationTimeout = d.StreamCreationTimeout
	}
	if c.LogPollInterval == 0 {
		c.LogPollInterval = d.LogPollInterval
	}
	if c.NodeLogDir == "" {
		c.NodeLogDir = "/var/log"
	}
}
