// Package wireguard is weft's WireGuard device on a node: its private key (made on the node,
// kept in a 0600 file, never sent anywhere), the device itself (the kernel's when it has
// WireGuard, otherwise wireguard-go over TUN inside the agent), and the text `weft wireguard
// show` prints. The overlay decides the peers; this package only carries them out.
package wireguard

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/weftnet/weft/internal/atomicfile"
)

// KeyFile is where the node's private key lives under the agent's state directory.
func KeyFile(stateDir string) string { return filepath.Join(stateDir, "wireguard", "private.key") }

// LoadOrCreateKey reads the node's private key, making one first when there is none: a
// restarted agent keeps its key, so its peers need not learn a new one.
func LoadOrCreateKey(path string) (wgtypes.Key, error) {
	k, err := ReadKey(path)
	if errors.Is(err, fs.ErrNotExist) {
		return WriteNewKey(path)
	}
	return k, err
}

// ReadKey reads a private key file (base64, as `wg genkey` writes it). A file others can read
// is refused: the key would no longer be the node's alone.
func ReadKey(path string) (wgtypes.Key, error) {
	st, err := os.Stat(path)
	if err != nil {
		return wgtypes.Key{}, err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return wgtypes.Key{}, fmt.Errorf("WireGuard private key %s has mode %04o: only its owner may read it (chmod 600 %s)", path, st.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return wgtypes.Key{}, err
	}
	k, err := wgtypes.ParseKey(strings.TrimSpace(string(b)))
	if err != nil {
		return wgtypes.Key{}, fmt.Errorf("WireGuard private key %s: %w (remove the file and a new key is made)", path, err)
	}
	return k, nil
}

// WriteNewKey makes a new private key and replaces the file with it in one rename, so a reader
// sees the old key or the new one, never half of either.
func WriteNewKey(path string) (wgtypes.Key, error) {
	k, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		return wgtypes.Key{}, fmt.Errorf("generate a WireGuard key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return wgtypes.Key{}, err
	}
	if err := atomicfile.Write(path, []byte(k.String()+"\n"), 0o600); err != nil {
		return wgtypes.Key{}, fmt.Errorf("store WireGuard key: %w", err)
	}
	return k, nil
}

// KeyAge is how long ago the key file was last written: periodic rotation counts from there,
// so an agent restart does not reset the clock.
func KeyAge(path string, now time.Time) (time.Duration, error) {
	st, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return now.Sub(st.ModTime()), nil
}

// ParsePublicKey reads a peer's public key as its Node annotation carries it. The all-zero key
// is refused: it is what an unset key looks like, never a real one.
func ParsePublicKey(s string) (wgtypes.Key, error) {
	k, err := wgtypes.ParseKey(strings.TrimSpace(s))
	if err != nil {
		return wgtypes.Key{}, fmt.Errorf("not a WireGuard public key (44 characters of base64): %w", err)
	}
	if k == (wgtypes.Key{}) {
		return wgtypes.Key{}, errors.New("the all-zero WireGuard key is no public key")
	}
	return k, nil
}
