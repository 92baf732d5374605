package agent

import (
	"context"
	"time"
)

// watchWireGuardKey takes up a new WireGuard key within a second of its file changing (`weft
// wireguard rotate`, or --wireguard-key-rotation here) and asks for a sync, which publishes
// the new public key; peers then follow from the Node annotation.
func (a *Agent) watchWireGuardKey(ctx context.Context, resync func()) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	lastProblem := "" // said once, not every second
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			if rotated, err := a.wg.RotateIfOlder(a.opts.WireGuardKeyRotation, now); err != nil {
				a.log.Error("periodic WireGuard key rotation failed", "err", err)
			} else if rotated {
				a.log.Info("WireGuard key is older than --wireguard-key-rotation: made a new one", "every", a.opts.WireGuardKeyRotation)
			}
			changed, err := a.wg.ReloadKey()
			if err != nil {
				if err.Error() != lastProblem {
					a.log.Error("WireGuard key file; the device keeps its current key", "err", err)
					lastProblem = err.Error()
				}
				continue
			}
			lastProblem = ""
			if changed {
				a.log.Info("WireGuard key rotated; publishing the new public key", "public-key", a.wg.PublicKey().String())
				resync()
			}
		}
	}
}
