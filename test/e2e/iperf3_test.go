package e2e

import (
	"strings"
	"testing"
)

// TestIperf3Received needs no lab: iperf3's output, however it went wrong, becomes an error.
func TestIperf3Received(t *testing.T) {
	for _, tc := range []struct {
		name, out string
		want      int64
		wantErr   string
	}{
		{"a report after kubectl's text", "Defaulted container \"main\"\n{\"end\": {\"sum_received\": {\"bytes\": 1234}}}", 1234, ""},
		{"no JSON at all", "exit status 1\niperf3: error - unable to connect to server: Connection refused\n", 0, "no JSON report"},
		{"nothing", "", 0, "no JSON report"},
		{"cut short", "{\"start\": {", 0, "iperf3's report"},
		{"iperf3's own error", "{\"error\": \"control socket has closed unexpectedly\"}", 0, "control socket"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := iperf3Received(tc.out)
			if got != tc.want || (tc.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("iperf3Received = %d, %v; want %d and an error with %q", got, err, tc.want, tc.wantErr)
			}
		})
	}
}
