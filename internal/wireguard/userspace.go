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

// userspace is wireguard-go running in this process: a TUN device, the WireGuard state machine
// and its UAPI socket, through which it is configured and read like any userspace WireGuard.
type userspace struct {
	dev  *device.Device
	uapi net.Listener
}

func startUserspace(name string, mtu int, log *slog.Logger) (*userspace, error) {
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
	return &userspace{dev: dev, uapi: uapi}, nil
}

func (u *userspace) alive() bool {
	select {
	case <-u.dev.Wait():
		return false
	default:
		return true
	}
}

func (u *userspace) close() {
	u.uapi.Close()
	u.dev.Close()
}
