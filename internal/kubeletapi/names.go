package kubeletapi

import (
	"fmt"
	"net/http"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// containerRef reads namespace, pod and container from the path, refusing what cannot name them:
// an escaped "/" or ".." must not reach a runtime that builds file paths from names.
func containerRef(r *http.Request) (ns, pod, ctr string, err error) {
	ns, pod, ctr = r.PathValue("namespace"), r.PathValue("pod"), r.PathValue("container")
	for _, c := range []struct {
		what, name string
		check      func(string) []string
	}{
		{"namespace", ns, validation.IsDNS1123Label},
		{"pod", pod, validation.IsDNS1123Subdomain},
		{"container", ctr, validation.IsDNS1123Label},
	} {
		if msgs := c.check(c.name); len(msgs) > 0 {
			return "", "", "", fmt.Errorf("%s name %q: %s", c.what, c.name, strings.Join(msgs, "; "))
		}
	}
	return ns, pod, ctr, nil
}
