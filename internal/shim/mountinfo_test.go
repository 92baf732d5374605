package shim

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseMountInfo(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []mountPoint
		err      bool
	}{
		{"root and an overlay", "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n" +
			"60 27 0:50 / /var/lib rw,relatime shared:1 - overlay overlay rw,lowerdir=/var/lib\n",
			[]mountPoint{{"/", "ext4"}, {"/var/lib", "overlay"}}, false},
		{"escaped space", `70 27 0:51 / /mnt/my\040disk rw - tmpfs tmpfs rw` + "\n", []mountPoint{{"/mnt/my disk", "tmpfs"}}, false},
		{"no separator", "27 1 254:0 / / rw,relatime ext4 /dev/vda rw\n", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseMountInfo(strings.NewReader(tc.in))
			if (err != nil) != tc.err {
				t.Fatalf("error %v, want error %v", err, tc.err)
			}
			if !tc.err && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestUnescapeMountPath(t *testing.T) {
	for in, want := range map[string]string{`/a\040b`: "/a b", `/tab\011`: "/tab\t", `/back\134slash`: `/back\slash`, `/short\04`: `/short\04`, "/plain": "/plain"} {
		if got := unescapeMountPath(in); got != want {
			t.Errorf("unescapeMountPath(%q) = %q, want %q", in, got, want)
		}
	}
}
