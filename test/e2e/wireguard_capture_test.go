package e2e

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/weftnet/weft/internal/netns"
)

// frame is one IP packet seen on a wire: its addresses, transport and ports, and every byte of
// it, so a test can look for what must never be there in the clear.
type frame struct {
	src, dst     netip.Addr
	proto        uint8 // 6 TCP, 17 UDP, ...
	sport, dport uint16
	raw          []byte
	l4           []byte // the transport header and what follows, within raw
}

func (f frame) String() string {
	return fmt.Sprintf("%s:%d > %s:%d proto %d, %d bytes", f.src, f.sport, f.dst, f.dport, f.proto, len(f.raw))
}

// capture records every IP frame on every interface of a namespace through a packet socket,
// as tcpdump -i any would, without needing tcpdump. On the lab LAN that means each bridge
// port: frames the bridge forwards between nodes never pass the bridge device itself.
type capture struct {
	fd     int
	mu     sync.Mutex
	frames []frame
	stop   chan struct{}
	done   chan error
}

func startCapture(namespace string) (*capture, error) {
	c := &capture{fd: -1, stop: make(chan struct{}), done: make(chan error, 1)}
	// The socket belongs to the namespace it was made in; it can be read from any thread.
	err := netns.Do(netns.Path(namespace), func() error {
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
		if err != nil {
			return fmt.Errorf("packet socket: %w", err)
		}
		c.fd = fd
		return nil
	})
	if err != nil {
		return nil, err
	}
	_ = unix.SetsockoptTimeval(c.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 200000})
	go c.read()
	return c, nil
}

func (c *capture) read() {
	buf := make([]byte, 65536)
	for {
		select {
		case <-c.stop:
			c.done <- nil
			return
		default:
		}
		n, from, err := unix.Recvfrom(c.fd, buf, 0)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			c.done <- err
			return
		}
		// Each frame enters the bridge at one port and leaves at another (and may pass br0):
		// only its arrivals are counted, so each is seen once per hop it really makes.
		if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		if f, ok := parseFrame(buf[:n]); ok {
			c.mu.Lock()
			c.frames = append(c.frames, f)
			c.mu.Unlock()
		}
	}
}

// Stop ends the capture and returns what it saw.
func (c *capture) Stop() ([]frame, error) {
	close(c.stop)
	err := <-c.done
	unix.Close(c.fd)
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.frames, err
}

// parseFrame reads an Ethernet frame carrying IPv4 or IPv6 (extension headers are not
// followed: the transport is then left unknown, 0).
func parseFrame(b []byte) (frame, bool) {
	if len(b) < 14 {
		return frame{}, false
	}
	f := frame{raw: append([]byte(nil), b...)}
	l4 := []byte(nil)
	switch binary.BigEndian.Uint16(b[12:14]) {
	case unix.ETH_P_IP:
		ip := b[14:]
		if len(ip) < 20 {
			return frame{}, false
		}
		f.src, _ = netip.AddrFromSlice(ip[12:16])
		f.dst, _ = netip.AddrFromSlice(ip[16:20])
		f.proto = ip[9]
		if ihl := int(ip[0]&0x0f) * 4; len(ip) >= ihl {
			l4 = ip[ihl:]
		}
	case unix.ETH_P_IPV6:
		ip := b[14:]
		if len(ip) < 40 {
			return frame{}, false
		}
		f.src, _ = netip.AddrFromSlice(ip[8:24])
		f.dst, _ = netip.AddrFromSlice(ip[24:40])
		f.proto = ip[6]
		l4 = ip[40:]
	default:
		return frame{}, false
	}
	f.l4 = l4
	if (f.proto == unix.IPPROTO_TCP || f.proto == unix.IPPROTO_UDP) && len(l4) >= 4 {
		f.sport, f.dport = binary.BigEndian.Uint16(l4[0:2]), binary.BigEndian.Uint16(l4[2:4])
	}
	return f, true
}

// icmpErrorAboutWireGuard says whether f is an ICMP or ICMPv6 destination-unreachable about a
// WireGuard datagram (UDP 51820 to 51820): what a node's kernel answers while its WireGuard
// port is closed, as when an agent with a userspace device restarts. It quotes only the
// datagram's outer headers and the start of its ciphertext.
func icmpErrorAboutWireGuard(f frame) bool {
	var quoted []byte
	var hdr int
	switch {
	case f.proto == unix.IPPROTO_ICMP && len(f.l4) >= 8+20 && f.l4[0] == 3: // destination unreachable
		quoted = f.l4[8:]
		if quoted[9] != unix.IPPROTO_UDP {
			return false
		}
		hdr = int(quoted[0]&0x0f) * 4
	case f.proto == unix.IPPROTO_ICMPV6 && len(f.l4) >= 8+40 && f.l4[0] == 1: // destination unreachable
		quoted = f.l4[8:]
		if quoted[6] != unix.IPPROTO_UDP {
			return false
		}
		hdr = 40
	default:
		return false
	}
	return len(quoted) >= hdr+4 && binary.BigEndian.Uint16(quoted[hdr:]) == 51820 && binary.BigEndian.Uint16(quoted[hdr+2:]) == 51820
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// settle lets a capture see traffic that is still in flight.
func settle() { time.Sleep(300 * time.Millisecond) }
