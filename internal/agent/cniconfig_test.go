package agent

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfListIsWhatWeftCNIReads(t *testing.T) {
	b, err := cniConfList([]string{"10.42.0.0/24", "2001:cafe:42::/64"}, 1450)
	if err != nil {
		t.Fatal(err)
	}
	var conf struct {
		CNIVersion string `json:"cniVersion"`
		Name       string
		Plugins    []struct {
			Type     string
			MTU      int
			PodCIDRs []string
			DataDir  string
			// Capabilities must declare portMappings, or the runtime never passes hostPorts.
			Capabilities map[string]bool
		}
	}
	if err := json.Unmarshal(b, &conf); err != nil {
		t.Fatal(err)
	}
	p := conf.Plugins[0]
	if conf.CNIVersion != "1.1.0" || conf.Name != "weft" || p.Type != "weft-cni" || p.MTU != 1450 || len(p.PodCIDRs) != 2 || p.DataDir == "" || !p.Capabilities["portMappings"] {
		t.Errorf("unexpected conflist:\n%s", b)
	}
}

func TestWriteIfChanged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "net.d", ConfListName)
	for i, want := range []bool{true, false} {
		changed, err := writeIfChanged(path, []byte("a"))
		if err != nil || changed != want {
			t.Fatalf("write %d: changed=%v err=%v, want changed=%v", i, changed, err, want)
		}
	}
	if changed, _ := writeIfChanged(path, []byte("b")); !changed {
		t.Error("a different content was not written")
	}
	if b, _ := os.ReadFile(path); string(b) != "b" {
		t.Errorf("file holds %q", b)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("temporary file left behind: %v", entries)
	}
}

func TestAgentOptionsValidate(t *testing.T) {
	o := Defaults()
	o.MTU = 100
	o.CNIConfDir = "rel"
	err := o.Validate()
	for _, want := range []string{"--node-name", "--mtu 100", "--cni-conf-dir"} {
		if err == nil || !contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
