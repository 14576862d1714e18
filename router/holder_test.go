package router

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

func TestHolderZeroValue(t *testing.T) {
	var h Holder[string]
	first := h.Load()
	if first == nil || first.Len() != 0 {
		t.Fatalf("Load before Store = %v, want an empty table", first)
	}
	if h.Load() != first {
		t.Error("Load before Store allocates a new empty table on each call")
	}
	if _, st := first.Match("GET", "/v1/shelves"); st != NotFound {
		t.Errorf("empty table Match = %v", st)
	}
	tb := mustTable(t, "GET /v1/shelves")
	h.Store(tb)
	if h.Load() != tb {
		t.Error("Load does not return the stored table")
	}
	if old := h.Swap(nil); old != tb {
		t.Error("Swap does not return the replaced table")
	}
	if got := h.Load(); got == nil || got.Len() != 0 {
		t.Errorf("after Swap(nil), Load = %v, want an empty table", got)
	}
	h.Store(nil)
	if got := h.Load(); got == nil || got.Len() != 0 {
		t.Errorf("after Store(nil), Load = %v, want an empty table", got)
	}
	var h2 Holder[string]
	if old := h2.Swap(tb); old == nil || old.Len() != 0 {
		t.Errorf("first Swap returned %v, want an empty table", old)
	}
}

// Lookups run while another goroutine swaps tables: every lookup must see one
// whole table, never a mix, and never block. Run with -race.
func TestHolderConcurrentSwap(t *testing.T) {
	build := func(tag string, routes ...string) *Table[string] {
		es := entries(t, routes...)
		for i := range es {
			es[i].Value = tag + es[i].Value
		}
		tb, err := NewTable(es)
		if err != nil {
			t.Fatal(err)
		}
		return tb
	}
	a := build("A:", "GET /v1/shelves", "GET /v1/{name=shelves/*}")
	b := build("B:", "GET /v1/shelves", "POST /v1/{name=shelves/*}", "GET /v1/{name=shelves/*/books/*}")

	var h Holder[string]
	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan string, 16)
	report := func(s string) {
		select {
		case errs <- s:
		default:
		}
	}
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; !stop.Load() || n < 1000; n++ {
				tb := h.Load()
				if tb == nil {
					report("Load returned nil")
					return
				}
				m, st := tb.Match("GET", "/v1/shelves/s1")
				lit, _ := tb.Match("GET", "/v1/shelves")
				switch tb {
				case a:
					if st != Found || m.Value != "A:GET /v1/{name=shelves/*}" || lit.Value != "A:GET /v1/shelves" {
						report("table A: " + m.Value + " " + st.String() + " " + lit.Value)
					}
				case b:
					if st != MethodNotAllowed || strings.Join(tb.Allowed("/v1/shelves/s1"), ",") != "POST" || lit.Value != "B:GET /v1/shelves" {
						report("table B: " + st.String() + " " + lit.Value)
					}
				default:
					if tb.Len() != 0 || st != NotFound {
						report("a table that was never stored")
					}
				}
			}
		}()
	}
	for i := range 2000 {
		if i%2 == 0 {
			h.Store(a)
		} else {
			h.Store(b)
		}
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
