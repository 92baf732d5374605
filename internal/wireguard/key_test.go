package wireguard

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

func TestKeyFileIsMadeOnceAndKeptPrivate(t *testing.T) {
	path := KeyFile(t.TempDir())
	k1, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v: want 0600", err, st.Mode().Perm())
	}
	if dir, _ := os.Stat(filepath.Dir(path)); dir.Mode().Perm() != 0o700 {
		t.Errorf("key directory mode %v, want 0700", dir.Mode().Perm())
	}
	k2, err := LoadOrCreateKey(path)
	if err != nil || k2 != k1 {
		t.Fatalf("a restarted agent must find the same key: %v", err)
	}
	k3, err := WriteNewKey(path)
	if err != nil || k3 == k1 {
		t.Fatalf("rotation must make a new key: %v", err)
	}
	if got, _ := ReadKey(path); got != k3 {
		t.Errorf("the file holds %s after rotation, want the new key", got.PublicKey())
	}
	if age, err := KeyAge(path, time.Now().Add(time.Hour)); err != nil || age < 59*time.Minute {
		t.Errorf("key age %s, %v: want about an hour", age, err)
	}
}

func TestReadKeyRefusesWhatIsNotPrivate(t *testing.T) {
	dir := t.TempDir()
	open := filepath.Join(dir, "open.key")
	k, _ := wgtypes.GeneratePrivateKey()
	os.WriteFile(open, []byte(k.String()), 0o644)
	os.Chmod(open, 0o644)
	if _, err := ReadKey(open); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("a key others can read: %v, want a refusal that says chmod 600", err)
	}
	bad := filepath.Join(dir, "bad.key")
	os.WriteFile(bad, []byte("garbage"), 0o600)
	if _, err := ReadKey(bad); err == nil || !strings.Contains(err.Error(), "remove the file") {
		t.Errorf("a garbled key file: %v, want a refusal that says how to recover", err)
	}
}

func TestParsePublicKey(t *testing.T) {
	k, _ := wgtypes.GeneratePrivateKey()
	if got, err := ParsePublicKey(" " + k.PublicKey().String() + "\n"); err != nil || got != k.PublicKey() {
		t.Errorf("a real key: %v", err)
	}
	for _, s := range []string{"", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "c2hvcnQ=", "not base64!"} {
		if _, err := ParsePublicKey(s); err == nil {
			t.Errorf("ParsePublicKey(%q) accepted", s)
		}
	}
}

func TestShowNeverPrintsThePrivateKey(t *testing.T) {
	priv, _ := wgtypes.GeneratePrivateKey()
	peer, _ := wgtypes.GeneratePrivateKey()
	now := time.Now()
	dev := &wgtypes.Device{Name: "weft-wg", Type: wgtypes.Userspace, PrivateKey: priv, PublicKey: priv.PublicKey(), ListenPort: 51820,
		Peers: []wgtypes.Peer{{PublicKey: peer.PublicKey(), LastHandshakeTime: now.Add(-5 * time.Second), ReceiveBytes: 2048, TransmitBytes: 10}}}
	var out bytes.Buffer
	Show(&out, dev, map[wgtypes.Key]string{peer.PublicKey(): "node-2"}, now)
	text := out.String()
	for _, want := range []string{"interface: weft-wg", "mode: userspace", "listening port: 51820", "peer: " + peer.PublicKey().String(),
		"node: node-2", "latest handshake: 5s ago", "transfer: 2.00 KiB received, 10 B sent"} {
		if !strings.Contains(text, want) {
			t.Errorf("show lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, priv.String()) {
		t.Errorf("show printed the private key:\n%s", text)
	}
}

func TestRotateIfOlder(t *testing.T) {
	path := KeyFile(t.TempDir())
	k1, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	d := &Device{keyPath: path, key: k1}
	now := time.Now()
	for _, c := range []struct {
		maxAge time.Duration
		want   bool
	}{{0, false}, {time.Hour, false}} {
		if rotated, err := d.RotateIfOlder(c.maxAge, now); err != nil || rotated != c.want {
			t.Errorf("a fresh key with rotation %s: rotated %t, %v; want %t", c.maxAge, rotated, err, c.want)
		}
	}
	if rotated, err := d.RotateIfOlder(time.Hour, now.Add(2*time.Hour)); err != nil || !rotated {
		t.Fatalf("a key two hours old with rotation 1h: rotated %t, %v", rotated, err)
	}
	changed, err := d.ReloadKey()
	if err != nil || !changed || d.PublicKey() == k1.PublicKey() {
		t.Errorf("the agent must take up the rotated key: changed %t, %v", changed, err)
	}
	if changed, _ := d.ReloadKey(); changed {
		t.Errorf("an unchanged key file is no rotation")
	}
}

func TestPortInUseIsRecognised(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("configure: %w", unix.EADDRINUSE), true},
		{errors.New("read: wguser: errno=-98"), true},
		{errors.New("read: wguser: errno=-22"), false},
	} {
		if got := portInUse(c.err); got != c.want {
			t.Errorf("portInUse(%v) = %t, want %t", c.err, got, c.want)
		}
	}
}
