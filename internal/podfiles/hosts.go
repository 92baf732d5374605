package podfiles

import (
	"bytes"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

const (
	etcHostsPath = "/etc/hosts"

	hostsHeader            = "# Kubernetes-managed hosts file.\n"
	hostNetworkHostsHeader = "# Kubernetes-managed hosts file (host network).\n"
	hostAliasesHeader      = "# Entries added by HostAliases.\n"

	// hostnameMaxLen is the Linux nodename limit (64 bytes with the NUL).
	hostnameMaxLen = 63
	// fqdnMaxLen is what the kubelet allows for setHostnameAsFQDN.
	fqdnMaxLen = 64
)

// ShouldMountHostsFile reports whether the kubelet would bind-mount a managed
// /etc/hosts into container c: the pod needs an IP or host networking, and the
// container must not mount a volume at /etc/hosts itself.
func ShouldMountHostsFile(pod *corev1.Pod, c *corev1.Container, podIPs []string) bool {
	if len(podIPs) == 0 && !pod.Spec.HostNetwork {
		return false
	}
	for _, m := range c.VolumeMounts {
		if m.MountPath == etcHostsPath {
			return false
		}
	}
	return true
}

// HostsFile renders /etc/hosts for a pod with its own network namespace.
//
// After the header and the loopback boilerplate, every pod IP gets a line in
// the order given (the CRI's order: primary first; no per-family dedupe). With
// spec.subdomain set the line reads "<ip>\t<hostname>.<domain>\t<hostname>",
// otherwise "<ip>\t<hostname>". HostAliases follow in their own section.
// The error is Hostname's.
func HostsFile(pod *corev1.Pod, podIPs []string, clusterDomain string) ([]byte, error) {
	hostname, domain, err := Hostname(pod, clusterDomain)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString(hostsHeader)
	b.WriteString("127.0.0.1\tlocalhost\n")
	b.WriteString("::1\tlocalhost ip6-localhost ip6-loopback\n")
	b.WriteString("fe00::0\tip6-localnet\n")
	b.WriteString("fe00::0\tip6-mcastprefix\n")
	b.WriteString("fe00::1\tip6-allnodes\n")
	b.WriteString("fe00::2\tip6-allrouters\n")
	for _, ip := range podIPs {
		if domain != "" {
			fmt.Fprintf(&b, "%s\t%s.%s\t%s\n", ip, hostname, domain, hostname)
		} else {
			fmt.Fprintf(&b, "%s\t%s\n", ip, hostname)
		}
	}
	writeHostAliases(&b, pod.Spec.HostAliases)
	return b.Bytes(), nil
}

// HostNetworkHostsFile renders /etc/hosts for a hostNetwork pod: a header,
// the node's /etc/hosts copied byte for byte (no newline is added if it lacks
// a final one), then the HostAliases section.
func HostNetworkHostsFile(nodeHosts []byte, pod *corev1.Pod) []byte {
	var b bytes.Buffer
	b.WriteString(hostNetworkHostsHeader)
	b.Write(nodeHosts)
	writeHostAliases(&b, pod.Spec.HostAliases)
	return b.Bytes()
}

func writeHostAliases(b *bytes.Buffer, aliases []corev1.HostAlias) {
	if len(aliases) == 0 {
		return
	}
	b.WriteString("\n")
	b.WriteString(hostAliasesHeader)
	for _, a := range aliases {
		fmt.Fprintf(b, "%s\t%s\n", a.IP, strings.Join(a.Hostnames, "\t"))
	}
}

// Hostname returns the pod's short hostname and its domain, as the kubelet
// derives them for /etc/hosts:
//   - spec.hostnameOverride, when set, wins: it must be a DNS subdomain, and
//     the domain is empty even if spec.subdomain is set;
//   - otherwise spec.hostname (a DNS label) or else the pod name;
//   - names over 63 bytes are cut to 63 and then stripped of trailing '-'/'.';
//   - domain is "<subdomain>.<namespace>.svc.<clusterDomain>" when
//     spec.subdomain is set, else "".
//
// The FQDN, where one exists, is hostname + "." + domain.
func Hostname(pod *corev1.Pod, clusterDomain string) (hostname, domain string, err error) {
	if o := pod.Spec.HostnameOverride; o != nil {
		if msgs := validation.IsDNS1123Subdomain(*o); len(msgs) != 0 {
			return "", "", fmt.Errorf("pod %s/%s: spec.hostnameOverride %q is not a valid DNS subdomain: %s", pod.Namespace, pod.Name, *o, strings.Join(msgs, "; "))
		}
		h, err := truncateHostname(pod, *o)
		return h, "", err
	}
	hostname = pod.Name
	if pod.Spec.Hostname != "" {
		if msgs := validation.IsDNS1123Label(pod.Spec.Hostname); len(msgs) != 0 {
			return "", "", fmt.Errorf("pod %s/%s: spec.hostname %q is not a valid DNS label: %s", pod.Namespace, pod.Name, pod.Spec.Hostname, strings.Join(msgs, "; "))
		}
		hostname = pod.Spec.Hostname
	}
	if hostname, err = truncateHostname(pod, hostname); err != nil {
		return "", "", err
	}
	if sub := pod.Spec.Subdomain; sub != "" {
		if msgs := validation.IsDNS1123Label(sub); len(msgs) != 0 {
			return "", "", fmt.Errorf("pod %s/%s: spec.subdomain %q is not a valid DNS label: %s", pod.Namespace, pod.Name, sub, strings.Join(msgs, "; "))
		}
		domain = sub + "." + pod.Namespace + ".svc." + clusterDomain
	}
	return hostname, domain, nil
}

func truncateHostname(pod *corev1.Pod, h string) (string, error) {
	if len(h) <= hostnameMaxLen {
		return h, nil
	}
	t := strings.TrimRight(h[:hostnameMaxLen], "-.")
	if t == "" {
		return "", fmt.Errorf("pod %s/%s: hostname %q is invalid after truncation to %d characters", pod.Namespace, pod.Name, h, hostnameMaxLen)
	}
	return t, nil
}

// KernelHostname returns the UTS hostname the sandbox gets, which is also
// the content of /etc/hostname followed by "\n". It is Hostname's short name,
// or "<hostname>.<domain>" when spec.setHostnameAsFQDN is true and the pod
// has a domain; that FQDN may be at most 64 bytes. A hostNetwork pod keeps the
// node's hostname, reported as "".
func KernelHostname(pod *corev1.Pod, clusterDomain string) (string, error) {
	if pod.Spec.HostNetwork {
		return "", nil
	}
	hostname, domain, err := Hostname(pod, clusterDomain)
	if err != nil {
		return "", err
	}
	if domain == "" || pod.Spec.SetHostnameAsFQDN == nil || !*pod.Spec.SetHostnameAsFQDN {
		return hostname, nil
	}
	fqdn := hostname + "." + domain
	if len(fqdn) > fqdnMaxLen {
		return "", fmt.Errorf("pod %s/%s: spec.setHostnameAsFQDN: FQDN %q is %d characters, at most %d fit the kernel hostname", pod.Namespace, pod.Name, fqdn, len(fqdn), fqdnMaxLen)
	}
	return fqdn, nil
}
