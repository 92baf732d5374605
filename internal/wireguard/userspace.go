package wireguard

import (
	"errors"
	"fmt"
	"log/slog"
	"net"

	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/ipc"
	"golang.zx2c4.com/wireguard/tun"
)

// Userspace is wireguard-go running in this process: a TUN device, the WireGuard state machine
// and its UAPI socket, through which it is configured and read like any userspace WireGuard.
// Its TUN device and UDP socket belong to the network namespace of the whole process.
type Userspace struct {
	dev  *device.Device
	uapi net.Listener
}

// StartUserspace makes the TUN device name and serves WireGuard on it until Close.
func StartUserspace(name string, mtu int, log *slog.Logger) (*Userspace, error) {
	t, err := tun.CreateTUN(name, mtu)
	if err != nil {
		return nil, fmt.Errorf("create TUN device %s (is /dev/net/tun there?): %w", name, err)
	}
	logger := &device.Logger{
		Verbosef: func(string, ...any) {},
		Errorf:   func(f string, args ...any) { log.Warn("wireguard-go: " + fmt.Sprintf(f, args...)) },
	}
	dev := device.NewDevice(t, conn.NewDefaultBind(), logger)
	f, err := ipc.UAPIOpen(name)
	if err != nil {
		dev.Close()
		return nil, fmt.Errorf("open the UAPI socket of %s under /var/run/wireguard: %w", name, err)
	}
	uapi, err := ipc.UAPIListen(name, f)
	f.Close()
	if err != nil {
		dev.Close()
		return nil, fmt.Errorf("listen on the UAPI socket of %s: %w", name, err)
	}
	go func() {
		for {
			c, err := uapi.Accept()
			if err != nil {
				if !errors.Is(err, net.ErrClosed) {
					log.Warn("WireGuard UAPI socket stopped", "device", name, "err", err)
				}
				return
			}
			go dev.IpcHandle(c)
		}
	}()
	return &Userspace{dev: dev, uapi: uapi}, nil
}

// Done is closed when the device has stopped (its TUN device was removed, or Close).
func (u *Userspace) Done() <-chan struct{} { return u.dev.Wait() }

func (u *Userspace) alive() bool {
	select {
	case <-u.dev.Wait():
		return false
	default:
		return true
	}
}

// Close stops the device; its TUN device goes with it.
func (u *Userspace) Close() {
	u.uapi.Close()
	u.dev.Close()
}
