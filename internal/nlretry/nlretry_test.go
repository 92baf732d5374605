package nlretry

import (
	"errors"
	"slices"
	"testing"

	"github.com/vishvananda/netlink"
)

func TestDump(t *testing.T) {
	other := errors.New("permission denied")
	for _, tc := range []struct {
		name      string
		results   []error // what each try returns; a nil error comes with the listing
		want      []int
		wantErr   error
		wantTries int
	}{
		{"first try", []error{nil}, []int{1, 2}, nil, 1},
		{"interrupted once", []error{netlink.ErrDumpInterrupted, nil}, []int{1, 2}, nil, 2},
		{"interrupted four times", []error{netlink.ErrDumpInterrupted, netlink.ErrDumpInterrupted, netlink.ErrDumpInterrupted, netlink.ErrDumpInterrupted, nil}, []int{1, 2}, nil, 5},
		{"always interrupted", slices.Repeat([]error{netlink.ErrDumpInterrupted}, 9), nil, netlink.ErrDumpInterrupted, Tries},
		{"another error is not retried", []error{other, nil}, nil, other, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tries := 0
			got, err := Dump(func() ([]int, error) {
				err := tc.results[tries]
				tries++
				if err != nil {
					return []int{1}, err // a partial listing, as netlink returns with ErrDumpInterrupted
				}
				return []int{1, 2}, nil
			})
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Errorf("error %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr != nil {
				if got != nil && errors.Is(err, netlink.ErrDumpInterrupted) {
					t.Errorf("listing %v returned after every try was interrupted", got)
				}
			} else if !slices.Equal(got, tc.want) {
				t.Errorf("listing %v, want %v", got, tc.want)
			}
			if tries != tc.wantTries {
				t.Errorf("%d tries, want %d", tries, tc.wantTries)
			}
		})
	}
}
