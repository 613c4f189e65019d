package probe

import "testing"

// Configuration bounds, exactly at the edges: ports 1 and 65535 are valid.
func TestPortBoundsExact(t *testing.T) {
	for _, ports := range [][]int{{1}, {65535}, {1, 65535}} {
		c := Config{Ports: ports}
		if err := c.Validate(); err != nil {
			t.Errorf("ports %v: %v, want valid", ports, err)
		}
	}
	for _, ports := range [][]int{{0}, {65536}, {-1}} {
		c := Config{Ports: ports}
		if err := c.Validate(); err == nil {
			t.Errorf("ports %v accepted", ports)
		}
	}
}
