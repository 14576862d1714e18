package policy

import "testing"

func TestSlotsLimit(t *testing.T) {
	var c Slots[string]
	if !c.Acquire("a", 2) || !c.Acquire("a", 2) || c.Acquire("a", 2) {
		t.Fatal("limit of 2 not enforced")
	}
	if !c.Acquire("b", 2) {
		t.Fatal("another client shares the first one's slots")
	}
	c.Release("a")
	if !c.Acquire("a", 2) {
		t.Fatal("a released slot is not reusable")
	}
	c.Release("a")
	c.Release("a")
	c.Release("b")
	if len(c.n) != 0 {
		t.Fatalf("entries left: %v", c.n)
	}
	for range 100 {
		if !c.Acquire("z", 0) {
			t.Fatal("0 must mean unlimited")
		}
	}
}
