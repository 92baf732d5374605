package lab

import (
	"context"

	"github.com/weftnet/weft/internal/httpserver"
)

// ServeExternalHost is the service of the lab's external host (192.168.2.10): HTTP on port 80
// that tells each client which address it came from, so a user sees whether traffic was
// masqueraded.
func ServeExternalHost(ctx context.Context) error {
	return httpserver.Serve(ctx, "weft lab external host", []int{80})
}
