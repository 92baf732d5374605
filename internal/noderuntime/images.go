package noderuntime

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/weftnet/weft/internal/shim"
)

// ErrCommandNotFound means the container's program does not exist on the node.
var ErrCommandNotFound = errors.New("executable file not found")

// The lab pulls no images: an image name maps to a program, and a few images to files of their
// own, on top of the node's file system that every container's root starts from.
//
//	e2e-test-images/agnhost   /agnhost from the images directory, /localhost.crt and .key, /coredns when the directory has it; Docker's entrypoint rules
//	pause                     /pause: sleeps until stopped
//	busybox                   the applets of busybox-static (command "sleep 3600" runs `busybox sleep 3600`; no command runs sh)
//	nginx, httpd, ...         weft's built-in HTTP server: answers with the pod's name on every container port (80 if none)
//	weft images               /usr/local/bin/weft and /usr/local/bin/weft-cni, as weft's real image has them; ENTRYPOINT weft
//	jessie-dnsutils, others   the container's command, looked up in PATH (jessie-dnsutils without one waits like pause)
var webImages = []string{"nginx", "httpd", "apache", "caddy", "traefik/whoami", "http-echo", "hashicorp/http-echo", "echoserver"}

// Where the weft-provided programs appear inside a container.
const (
	weftInContainer = "/.weft/weft"
	// weftImageDir is where weft's own image keeps weft and weft-cni.
	weftImageDir     = "/usr/local/bin"
	pauseInContainer = "/pause"
	agnhostBinary    = "agnhost"
	corednsBinary    = "coredns"
)

// imageRun is what a container of some image runs.
type imageRun struct {
	argv  []string    // argv[0] is an absolute path, or a name the shim looks up in the root's PATH
	files []shim.Bind // the image's own files, bound read-only into the root
}

// images maps image names to programs and files on this node.
type images struct {
	weftBin string
	cniBin  string // weft-cni, for weft's image ("" if the node has none)
	shimBin string
	dir     string                              // --images-dir: binaries the lab cannot make itself (agnhost)
	cert    func() (crt, key string, err error) // agnhost's localhost certificate, made once
}

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

// run returns how a container of this image runs on the node.
func (im images) run(c *corev1.Container, podName string) (imageRun, error) {
	base := imageBase(c.Image)
	name := path.Base(base)
	cmdline := append(append([]string{}, c.Command...), c.Args...)
	weftFile := shim.Bind{Source: im.weftBin, Target: weftInContainer, ReadOnly: true}
	switch {
	case name == "agnhost":
		return im.agnhost(c)
	case name == "pause":
		return entrypoint(c, []string{pauseInContainer}, shim.Bind{Source: im.shimBin, Target: pauseInContainer, ReadOnly: true}), nil
	case base == "busybox" || strings.HasPrefix(base, "busybox/"):
		bb, err := busyboxPath()
		if err != nil {
			return imageRun{}, err
		}
		if len(cmdline) == 0 {
			return imageRun{argv: []string{bb, "sh"}}, nil
		}
		return imageRun{argv: append([]string{bb}, cmdline...)}, nil
	case isWebImage(base) && len(c.Command) == 0:
		return imageRun{argv: []string{weftInContainer, "internal", "http-server", "--name", podName, "--ports", webPorts(c)}, files: []shim.Bind{weftFile}}, nil
	case strings.Contains(base, "weft"):
		return im.weftImage(c), nil
	case name == "jessie-dnsutils" && len(cmdline) == 0:
		return imageRun{argv: []string{pauseInContainer}, files: []shim.Bind{{Source: im.shimBin, Target: pauseInContainer, ReadOnly: true}}}, nil
	case im.hasProgram(name):
		// A single-program image (the e2e suite's regression-issue-74839, say) whose program
		// the images directory holds: its ENTRYPOINT is /<name>.
		return entrypoint(c, []string{"/" + name}, shim.Bind{Source: filepath.Join(im.dir, name), Target: "/" + name, ReadOnly: true}), nil
	}
	if len(cmdline) == 0 {
		return imageRun{}, fmt.Errorf("image %q has no mapping to a program in the weft lab and the container has no command: give command, or use busybox or nginx", c.Image)
	}
	p, err := lookPath(cmdline[0])
	if err != nil {
		return imageRun{}, err
	}
	return imageRun{argv: append([]string{p}, cmdline[1:]...)}, nil
}

// weftImage is weft's own image: the DaemonSet's agent and its install-cni init container.
func (im images) weftImage(c *corev1.Container) imageRun {
	weft := path.Join(weftImageDir, "weft")
	files := []shim.Bind{{Source: im.weftBin, Target: weft, ReadOnly: true}}
	if im.cniBin != "" {
		files = append(files, shim.Bind{Source: im.cniBin, Target: path.Join(weftImageDir, "weft-cni"), ReadOnly: true})
	}
	return entrypoint(c, []string{weft}, files...)
}

// hasProgram tells whether the images directory holds an executable named after the image.
func (im images) hasProgram(name string) bool {
	if im.dir == "" || name == "" || name == "." || name == "/" {
		return false
	}
	fi, err := os.Stat(filepath.Join(im.dir, name))
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// agnhost is Kubernetes' e2e test image: /agnhost with a subcommand, and a certificate for
// "localhost" beside it. The binary comes from the images directory.
func (im images) agnhost(c *corev1.Container) (imageRun, error) {
	bin := filepath.Join(im.dir, agnhostBinary)
	if fi, err := os.Stat(bin); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		return imageRun{}, fmt.Errorf("image %q: %w: the lab has no agnhost binary at %s: build it with `go build -o %s k8s.io/kubernetes/test/images/agnhost` (in a module that requires k8s.io/kubernetes), or start the lab with --images-dir DIR holding an executable agnhost",
			c.Image, ErrCommandNotFound, bin, bin)
	}
	crt, key, err := im.cert()
	if err != nil {
		return imageRun{}, fmt.Errorf("image %q: %w", c.Image, err)
	}
	files := []shim.Bind{
		{Source: bin, Target: "/agnhost", ReadOnly: true},
		{Source: crt, Target: "/localhost.crt", ReadOnly: true},
		{Source: key, Target: "/localhost.key", ReadOnly: true},
	}
	// The real image also carries CoreDNS, which the DNS specs run as a pod's own nameserver.
	if im.hasProgram(corednsBinary) {
		files = append(files, shim.Bind{Source: filepath.Join(im.dir, corednsBinary), Target: "/" + corednsBinary, ReadOnly: true})
	}
	return entrypoint(c, []string{"/agnhost", "pause"}, files...), nil
}

// entrypoint applies Docker's rules to an image whose ENTRYPOINT is def[0] and CMD def[1:]:
// command replaces the entrypoint, args replace CMD.
func entrypoint(c *corev1.Container, def []string, files ...shim.Bind) imageRun {
	var argv []string
	switch {
	case len(c.Command) > 0:
		argv = append(append(argv, c.Command...), c.Args...)
	case len(c.Args) > 0:
		argv = append([]string{def[0]}, c.Args...)
	default:
		argv = append(argv, def...)
	}
	return imageRun{argv: argv, files: files}
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

// lookPath finds a program as a container runtime would in an image's default PATH. Every
// container's root shows the node's files, so what the node has, the container has.
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
