package proxy

import (
	"strings"
	"testing"

	"github.com/weftnet/weft/internal/nft"
)

// Every rule of the scenario table carries a comment whose purpose weft trace can tell apart,
// and a rule of a service's own chain names its service port first.
func TestRulesSayWhatTheyAreFor(t *testing.T) {
	tbl := tableOf(discard{nft.NewFake(nft.InetFamily, Table)}, scenarioServices(), labServiceCIDRs, labClusterCIDRs)
	if _, err := tbl.sync(t.Context(), true); err != nil {
		t.Fatal(err)
	}
	owners := append([]string{skeletonOwner, dispatchOwner, cidrsOwner}, keys(scenarioServices())...)
	n := 0
	for _, o := range owners {
		c := tbl.nft.Owner(o)
		if c == nil {
			continue
		}
		for _, ch := range c.Chains {
			for _, r := range ch.Rules {
				n++
				svc, purpose := ParseComment(r.Comment)
				if purpose == "" || len(r.Comment) > maxComment {
					t.Errorf("chain %s rule %q: comment %q says nothing or is too long", ch.Name, r.Text, r.Comment)
				}
				own := strings.HasPrefix(ch.Name, "svc-") || strings.HasPrefix(ch.Name, "ext-") && !strings.HasPrefix(ch.Name, "ext-pick-") ||
					strings.HasPrefix(ch.Name, "ep-") || strings.HasPrefix(ch.Name, "firewall-") && !strings.HasPrefix(ch.Name, "firewall-check") &&
					!strings.HasPrefix(ch.Name, "firewall-prerouting") && !strings.HasPrefix(ch.Name, "firewall-output")
				if own != (svc != "") {
					t.Errorf("chain %s rule %q: comment %q names service port %q", ch.Name, r.Text, r.Comment, svc)
				}
			}
		}
	}
	if n < 50 {
		t.Errorf("only %d rules looked at", n)
	}
	long := &servicePort{namespace: strings.Repeat("n", 63), name: strings.Repeat("s", 63), port: 8080}
	if c := serviceComment(long, whyEndpoint); len(c) > maxComment {
		t.Errorf("comment of %d bytes: %q", len(c), c)
	} else if _, purpose := ParseComment(c); purpose != whyEndpoint {
		t.Errorf("a long name's comment lost its purpose: %q", c)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
