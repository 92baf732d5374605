package noderuntime

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// probeState follows one probe of one container instance, with the kubelet's thresholds.
type probeState struct {
	last      time.Time
	successes int
	failures  int
	result    bool // the probe's verdict after thresholds
	decided   bool
}

// due tells whether the probe should run now.
func (s *probeState) due(p *corev1.Probe, startedAt time.Time, now time.Time) bool {
	if now.Before(startedAt.Add(time.Duration(p.InitialDelaySeconds) * time.Second)) {
		return false
	}
	period := time.Duration(max(p.PeriodSeconds, 1)) * time.Second
	return s.last.IsZero() || now.Sub(s.last) >= period
}

// record applies one result: the verdict flips only after successThreshold successes or
// failureThreshold failures in a row.
func (s *probeState) record(p *corev1.Probe, ok bool, now time.Time) {
	s.last = now
	if ok {
		s.successes++
		s.failures = 0
		if s.successes >= int(max(p.SuccessThreshold, 1)) {
			s.result, s.decided = true, true
		}
		return
	}
	s.failures++
	s.successes = 0
	if s.failures >= int(max(p.FailureThreshold, 1)) {
		s.result, s.decided = false, true
	}
}

// prober runs probes the way the kubelet does: exec inside the container, TCP and HTTP from
// the node to the pod's address.
type prober struct {
	exec func(ctx context.Context, argv []string) *exec.Cmd
}

func (pr prober) probe(ctx context.Context, p *corev1.Probe, c *corev1.Container, podIP string, execArgv func([]string) ([]string, error)) (bool, string) {
	timeout := time.Duration(max(p.TimeoutSeconds, 1)) * time.Second
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch {
	case p.Exec != nil:
		argv, err := execArgv(p.Exec.Command)
		if err != nil {
			return false, err.Error()
		}
		out, err := pr.exec(ctx, argv).CombinedOutput()
		if err != nil {
			return false, fmt.Sprintf("exec %v: %v: %s", p.Exec.Command, err, out)
		}
		return true, ""
	case p.TCPSocket != nil:
		port, err := resolvePort(p.TCPSocket.Port, c)
		if err != nil {
			return false, err.Error()
		}
		host := podIP
		if p.TCPSocket.Host != "" {
			host = p.TCPSocket.Host
		}
		conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return false, err.Error()
		}
		conn.Close()
		return true, ""
	case p.HTTPGet != nil:
		port, err := resolvePort(p.HTTPGet.Port, c)
		if err != nil {
			return false, err.Error()
		}
		host := podIP
		if p.HTTPGet.Host != "" {
			host = p.HTTPGet.Host
		}
		scheme := "http"
		if p.HTTPGet.Scheme == corev1.URISchemeHTTPS {
			scheme = "https"
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+net.JoinHostPort(host, strconv.Itoa(port))+p.HTTPGet.Path, nil)
		if err != nil {
			return false, err.Error()
		}
		for _, h := range p.HTTPGet.HTTPHeaders {
			req.Header.Add(h.Name, h.Value)
		}
		req.Header.Set("User-Agent", "kube-probe/weft")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode >= 400 {
			return false, fmt.Sprintf("HTTP probe failed with statuscode: %d", resp.StatusCode)
		}
		return true, ""
	}
	return false, "probe type not supported by the weft lab runtime (use exec, tcpSocket or httpGet)"
}

// resolvePort turns a number or a named container port into a number.
func resolvePort(p intstr.IntOrString, c *corev1.Container) (int, error) {
	if p.Type == intstr.Int {
		return p.IntValue(), nil
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort), nil
		}
	}
	return 0, fmt.Errorf("container %s has no port named %q", c.Name, p.StrVal)
}
