package fwmark

import "testing"

// TestNoOverlap: no two of weft's bits overlap, and none takes a bit other software on the node
// uses. A new bit goes into Weft, and this test shows it is free.
func TestNoOverlap(t *testing.T) {
	for i, a := range Weft {
		if a == 0 {
			t.Errorf("bit %d is empty", i)
		}
		for _, b := range Weft[i+1:] {
			if a&b != 0 {
				t.Errorf("%s and %s overlap", Hex(a), Hex(b))
			}
		}
		for _, f := range Foreign {
			if a&f != 0 {
				t.Errorf("%s takes bits of %s, which other software on nodes uses", Hex(a), Hex(f))
			}
		}
	}
	if top := RouteSlotMask >> RouteSlotShift; top != 0xff || RouteSlotMask&(1<<RouteSlotShift) == 0 {
		t.Errorf("RouteSlotShift %d does not start RouteSlotMask %s", RouteSlotShift, Hex(RouteSlotMask))
	}
}

func TestHex(t *testing.T) {
	for _, tc := range []struct {
		m    uint32
		want string
	}{{ProxyMasquerade, "0x20000000"}, {RouteSlotMask, "0x0ff00000"}, {0x4000, "0x00004000"}} {
		if got := Hex(tc.m); got != tc.want {
			t.Errorf("Hex(%#x) = %s, want %s", tc.m, got, tc.want)
		}
	}
}
