package noderuntime

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// ErrCommandNotFound means the container's program does not exist on the node.
var ErrCommandNotFound = errors.New("executable file not found")

// The lab runs no images: an image name maps to a program on the node.
//
//	busybox           the applets of busybox-static (command "sleep 3600" runs `busybox sleep 3600`; no command runs sh)
//	nginx, httpd, ... weft's built-in HTTP server: answers with the pod's name on every container port (80 if none)
//	weft images       the weft binary itself, with the container's command and args
//	anything else     the container's command, looked up in PATH
var webImages = []string{"nginx", "httpd", "apache", "caddy", "traefik/whoami", "http-echo", "hashicorp/http-echo", "echoserver", "agnhost"}

// imageBase strips the registry, the library prefix, the tag and the digest: "docker.io/library/nginx:1.27" is "nginx".
func imageBase(image string) string {
	if i := strings.Index(image, "@"); i >= 0 {
		image = image[:i]
	}
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		image = image[:i]
	}
	parts := strings.Split(image, "/")
	if len(parts) > 1 && (strings.ContainsAny(parts[0], ".:") || parts[0] == "localhost") {
		parts = parts[1:]
	}
	if len(parts) > 1 && parts[0] == "library" {
		parts = parts[1:]
	}
	return strings.Join(parts, "/")
}

// programFor returns the argv that runs a container of this image on the node.
func programFor(c *corev1.Container, podName, weftBin string) ([]string, error) {
	base := imageBase(c.Image)
	cmdline := append(append([]string{}, c.Command...), c.Args...)
	switch {
	case base == "busybox" || strings.HasPrefix(base, "busybox/"):
		bb, err := busyboxPath()
		if err != nil {
			return nil, err
		}
		if len(c.Command) == 0 && len(c.Args) == 0 {
			return []string{bb, "sh"}, nil
		}
		return append([]string{bb}, cmdline...), nil
	case isWebImage(base) && len(c.Command) == 0:
		return []string{weftBin, "internal", "http-server", "--name", podName, "--ports", webPorts(c)}, nil
	case strings.Contains(base, "weft"):
		return append([]string{weftBin}, cmdline...), nil
	}
	if len(cmdline) == 0 {
		return nil, fmt.Errorf("image %q has no mapping to a program in the weft lab and the container has no command: give command, or use busybox or nginx", c.Image)
	}
	path, err := lookPath(cmdline[0])
	if err != nil {
		return nil, err
	}
	return append([]string{path}, cmdline[1:]...), nil
}

func isWebImage(base string) bool {
	for _, w := range webImages {
		if base == w || strings.HasSuffix(base, "/"+w) {
			return true
		}
	}
	return false
}

func webPorts(c *corev1.Container) string {
	var ports []string
	for _, p := range c.Ports {
		if p.Protocol == "" || p.Protocol == corev1.ProtocolTCP {
			ports = append(ports, strconv.Itoa(int(p.ContainerPort)))
		}
	}
	if len(ports) == 0 {
		return "80"
	}
	return strings.Join(ports, ",")
}

func busyboxPath() (string, error) {
	for _, p := range []string{"/bin/busybox", "/usr/bin/busybox"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	if p, err := exec.LookPath("busybox"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("busybox: %w on the node: install busybox-static", ErrCommandNotFound)
}

// lookPath finds a program as a container runtime would in an image's default PATH.
func lookPath(name string) (string, error) {
	if strings.Contains(name, "/") {
		if _, err := os.Stat(name); err != nil {
			return "", fmt.Errorf("%q: %w", name, ErrCommandNotFound)
		}
		return name, nil
	}
	for _, dir := range strings.Split(defaultPath, ":") {
		p := dir + "/" + name
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("exec: %q: %w in $PATH", name, ErrCommandNotFound)
}

// defaultPath is the PATH container images set (and what the lab gives containers).
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
