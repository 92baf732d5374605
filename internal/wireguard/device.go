package wireguard

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/wgctrl"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// Mode is which WireGuard carries the node's traffic.
type Mode string

const (
	// ModeKernel is the kernel's WireGuard, configured over generic netlink.
	ModeKernel Mode = "kernel"
	// ModeUserspace is wireguard-go over a TUN device inside the agent, configured over its
	// UAPI socket under /var/run/wireguard, where `weft wireguard show` and `wg` find it too.
	ModeUserspace Mode = "userspace"
)

// Device is the node's one WireGuard device. Ensure makes it (again, if someone removed it),
// the key file is the truth about its private key, and the overlay sets its peers.
type Device struct {
	name    string
	keyPath string
	port    int
	log     *slog.Logger

	mu     sync.Mutex
	key    wgtypes.Key
	mode   Mode
	user   *Userspace // the running wireguard-go, in ModeUserspace only
	client *wgctrl.Client
}

// New loads (or makes) the node's private key; the device itself comes with the first Ensure.
func New(name, stateDir string, port int, log *slog.Logger) (*Device, error) {
	path := KeyFile(stateDir)
	key, err := LoadOrCreateKey(path)
	if err != nil {
		return nil, err
	}
	client, err := wgctrl.New()
	if err != nil {
		return nil, fmt.Errorf("WireGuard control: %w", err)
	}
	return &Device{name: name, keyPath: path, port: port, log: log, key: key, client: client}, nil
}

// Name is the device's interface name.
func (d *Device) Name() string { return d.name }

// Port is the UDP port the device listens on.
func (d *Device) Port() int { return d.port }

// PublicKey is what peers need to know of this node.
func (d *Device) PublicKey() wgtypes.Key {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.key.PublicKey()
}

// Mode says which WireGuard runs; empty before the first Ensure.
func (d *Device) Mode() Mode {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.mode
}

// Ensure makes the device when it is missing, the kernel's WireGuard first and wireguard-go
// when the kernel has none, and gives it the node's key and port. It returns the link's index.
// An existing kernel device is adopted as it is, so an agent restart keeps every session.
func (d *Device) Ensure(mtu int) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	link, err := netlink.LinkByName(d.name)
	var nf netlink.LinkNotFoundError
	switch {
	case err == nil && link.Type() == "wireguard":
		d.setMode(ModeKernel, "")
	case err == nil && d.user != nil && d.user.alive():
		// ours, running
	case err == nil:
		// A TUN device whose wireguard-go is gone (an agent that stopped), or something else
		// under weft's name: nothing can carry traffic through it.
		if err := netlink.LinkDel(link); err != nil {
			return 0, fmt.Errorf("remove stale %s (%s): %w", d.name, link.Type(), err)
		}
		link = nil
	case errors.As(err, &nf):
		link = nil
	default:
		return 0, fmt.Errorf("find %s: %w", d.name, err)
	}
	if link == nil {
		if d.user != nil {
			d.user.Close() // its TUN device was removed under it
			d.user = nil
		}
		if link, err = d.create(mtu); err != nil {
			return 0, err
		}
	}
	if err := d.configureOwn(); err != nil {
		return 0, err
	}
	return link.Attrs().Index, nil
}

// create makes the device: the kernel's when it has WireGuard, else wireguard-go over TUN.
func (d *Device) create(mtu int) (netlink.Link, error) {
	kerr := netlink.LinkAdd(&netlink.Wireguard{LinkAttrs: netlink.LinkAttrs{Name: d.name, MTU: mtu}})
	if kerr == nil {
		d.setMode(ModeKernel, "")
	} else {
		u, err := StartUserspace(d.name, mtu, d.log)
		if err != nil {
			return nil, fmt.Errorf("WireGuard device %s: the kernel has no WireGuard (%v) and the userspace one failed: %w", d.name, kerr, err)
		}
		d.user = u
		d.setMode(ModeUserspace, kerr.Error())
	}
	link, err := netlink.LinkByName(d.name)
	if err != nil {
		return nil, fmt.Errorf("find %s after creating it: %w", d.name, err)
	}
	return link, nil
}

func (d *Device) setMode(m Mode, why string) {
	if d.mode == m {
		return
	}
	d.mode = m
	if m == ModeUserspace {
		d.log.Info("WireGuard runs in userspace (wireguard-go over TUN inside the agent)", "device", d.name, "kernel-said", why)
	} else {
		d.log.Info("WireGuard runs in the kernel", "device", d.name)
	}
}

// configureOwn gives the device the node's private key and port when it has others.
func (d *Device) configureOwn() error {
	dev, err := d.client.Device(d.name)
	if err != nil {
		return fmt.Errorf("read WireGuard device %s: %w", d.name, err)
	}
	if dev.PrivateKey == d.key && dev.ListenPort == d.port {
		return nil
	}
	key, port := d.key, d.port
	if err := d.client.ConfigureDevice(d.name, wgtypes.Config{PrivateKey: &key, ListenPort: &port}); err != nil {
		if portInUse(err) {
			return fmt.Errorf("WireGuard device %s: UDP port %d is in use on this node: choose another with --wireguard-port: %w", d.name, port, err)
		}
		return fmt.Errorf("WireGuard device %s: set key and port %d: %w", d.name, port, err)
	}
	return nil
}

// ReloadKey takes up the key file's key when it changed (`weft wireguard rotate` writes it):
// the device gets it at once and the caller publishes the new public key.
func (d *Device) ReloadKey() (bool, error) {
	key, err := ReadKey(d.keyPath)
	if err != nil {
		return false, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if key == d.key {
		return false, nil
	}
	d.key = key
	if d.mode == "" {
		return true, nil // no device yet: Ensure brings the key
	}
	return true, d.configureOwn()
}

// RotateIfOlder writes a new key when the current one is older than maxAge (0: never); ReloadKey
// then takes it up as it does a rotation by hand.
func (d *Device) RotateIfOlder(maxAge time.Duration, now time.Time) (bool, error) {
	if maxAge <= 0 {
		return false, nil
	}
	age, err := KeyAge(d.keyPath, now)
	if err != nil || age < maxAge {
		return false, err
	}
	_, err = WriteNewKey(d.keyPath)
	return err == nil, err
}

// Peers are the device's peers as it has them now.
func (d *Device) Peers() ([]wgtypes.Peer, error) {
	d.mu.Lock() // one user of the control client at a time: the key watcher uses it too
	defer d.mu.Unlock()
	dev, err := d.client.Device(d.name)
	if err != nil {
		return nil, fmt.Errorf("read WireGuard device %s: %w", d.name, err)
	}
	return dev.Peers, nil
}

// ConfigurePeers adds, changes and removes peers; peers it does not name are left alone.
func (d *Device) ConfigurePeers(peers []wgtypes.PeerConfig) error {
	if len(peers) == 0 {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.client.ConfigureDevice(d.name, wgtypes.Config{Peers: peers}); err != nil {
		return fmt.Errorf("WireGuard device %s: configure %d peer(s): %w", d.name, len(peers), err)
	}
	return nil
}

// Delete removes the device (and with it its routes), for a switch to another backend.
func (d *Device) Delete() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.user != nil {
		d.user.Close()
		d.user = nil
	}
	d.mode = ""
	link, err := netlink.LinkByName(d.name)
	var nf netlink.LinkNotFoundError
	if errors.As(err, &nf) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("find %s: %w", d.name, err)
	}
	if err := netlink.LinkDel(link); err != nil {
		return fmt.Errorf("remove %s: %w", d.name, err)
	}
	return nil
}

// portInUse recognises "address in use" from the kernel (an errno) and from a userspace device,
// whose UAPI answer wgctrl passes on only as text ("errno=-98").
func portInUse(err error) bool {
	return errors.Is(err, unix.EADDRINUSE) || strings.Contains(err.Error(), fmt.Sprintf("errno=%d", -int(unix.EADDRINUSE)))
}
