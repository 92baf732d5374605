package lab

import (
	"context"

	"github.com/weftnet/weft/internal/httpserver"
)

// ServeExternalHost is the service of the lab's hosts outside the cluster (192.168.2.10 and
// 192.168.3.10): HTTP and UDP on port 80 that tell each client which address it came from, so a
// user sees whether traffic was masqueraded.
func ServeExternalHost(ctx context.Context, name string) error {
	return httpserver.Serve(ctx, name, []int{80})
}
