package yamlcheck

import "testing"

func TestClosestKey(t *testing.T) {
	known := map[string]bool{"timeout": true, "static": true, "balancer": true, "name": true}
	for key, want := range map[string]string{"timout": "timeout", "statc": "static", "nmae": "name", "xyz": "", "balance": "balancer"} {
		if got := closest(key, known); got != want {
			t.Errorf("closest(%q) = %q, want %q", key, got, want)
		}
	}
}
