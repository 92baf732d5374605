package hoststate

import (
	"strings"
	"testing"
)

// mountinfoT0 is real /proc/self/mountinfo content; mountinfoRenumbered has
// the same mounts with different mount IDs and in a different order.
const mountinfoT0 = `21 26 0:20 / /proc rw,relatime - proc proc rw
26 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard,resv_strict,resuid=65534,resgid=65534
41 26 254:0 /run/netns /run/netns rw,relatime shared:1 - ext4 /dev/vda rw,discard,resv_strict,resuid=65534,resgid=65534
`

const mountinfoRenumbered = `126 101 254:0 / / rw,relatime - ext4 /dev/vda rw,discard,resv_strict,resuid=65534,resgid=65534
141 126 254:0 /run/netns /run/netns rw,relatime shared:1 - ext4 /dev/vda rw,discard,resv_strict,resuid=65534,resgid=65534
121 126 0:20 / /proc rw,relatime - proc proc rw
`

func TestNormalizeMountinfo(t *testing.T) {
	runNormalizerCases(t, normalizeMountinfo, []normalizerCase{
		{name: "renumbered and reordered", a: mountinfoT0, b: mountinfoRenumbered, same: true},
		{
			name: "namespace handle mounted",
			a:    mountinfoT0,
			b:    mountinfoT0 + "42 41 0:4 net:[4026532176] /run/netns/probe rw shared:2 - nsfs nsfs rw\n",
			same: false,
		},
		{name: "options changed", a: mountinfoT0, b: strings.Replace(mountinfoT0, "/proc rw,relatime", "/proc ro,relatime", 1), same: false},
		{name: "propagation changed", a: mountinfoT0, b: strings.Replace(mountinfoT0, " shared:1 ", " ", 1), same: false},
		{name: "bind root changed", a: mountinfoT0, b: strings.Replace(mountinfoT0, "254:0 /run/netns /run/netns", "254:0 / /run/netns", 1), same: false},
	})
	got := normalizeMountinfo(mountinfoT0)
	want := "/run/netns ext4 /dev/vda root=/run/netns dev=254:0 opts=rw,relatime super=rw,discard,resv_strict,resuid=65534,resgid=65534 propagation=shared:1\n"
	if !strings.Contains(got, want) {
		t.Errorf("normalizeMountinfo = %q, want it to contain %q", got, want)
	}
	if got := normalizeMountinfo("garbage line\n"); got != "unparsed: garbage line\n" {
		t.Errorf("unparsable line normalized to %q", got)
	}
}
