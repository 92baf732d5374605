package nft

import (
	"encoding/binary"
	"fmt"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// The kernel counts nftables transactions per network namespace: the ruleset's generation.
// When it has not moved since this table's last transaction (or last comparison), nothing in
// the namespace's nftables changed, this table included, and a periodic full sync has nothing
// to repair: one netlink request instead of reading the table back. Another feature's
// transaction moves it too; then the table is compared (verify.go). A change made in the
// instant between this table's transaction and the reading of the generation goes unseen
// until the generation moves again.

// generation reads the namespace's ruleset generation over a lasting netlink socket.
func (n *netlinkElements) generation() (uint32, error) {
	if n.genConn == nil {
		cfg := &netlink.Config{}
		if n.ns != nil {
			cfg.NetNS = int(n.ns.Fd())
		}
		c, err := netlink.Dial(unix.NETLINK_NETFILTER, cfg)
		if err != nil {
			return 0, fmt.Errorf("netlink: %w", err)
		}
		n.genConn = c
	}
	req := netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_GETGEN), Flags: netlink.Request},
		// nfgenmsg: family, version, resource id; all zero.
		Data: []byte{0, 0, 0, 0},
	}
	replies, err := n.genConn.Execute(req)
	if err != nil {
		_ = n.genConn.Close()
		n.genConn = nil
		return 0, fmt.Errorf("netlink: ruleset generation: %w", err)
	}
	for _, m := range replies {
		if len(m.Data) < 4 {
			continue
		}
		ad, err := netlink.NewAttributeDecoder(m.Data[4:])
		if err != nil {
			return 0, fmt.Errorf("netlink: ruleset generation: %w", err)
		}
		ad.ByteOrder = binary.BigEndian
		for ad.Next() {
			if ad.Type() == unix.NFTA_GEN_ID {
				return ad.Uint32(), nil
			}
		}
	}
	return 0, fmt.Errorf("netlink: no ruleset generation in the reply")
}
