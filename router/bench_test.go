package router

import "testing"

// The figures in the package documentation come from:
//
//	go test -run '^$' -bench . -benchmem ./router/

func BenchmarkMatch(b *testing.B) {
	tb, err := NewTable(realisticEntries(1000))
	if err != nil {
		b.Fatal(err)
	}
	for _, bm := range []struct {
		name, method, path string
		want               Status
		vars               int
	}{
		{"literal", "GET", "/v1/widgets57", Found, 0},
		{"one-var", "GET", "/v1/widgets57/w-123", Found, 1},
		{"two-vars", "GET", "/v1/widgets57/w-123/parts/p-9", Found, 2},
		{"verb", "POST", "/v1/widgets57/w-123/parts/p-9:move", Found, 1},
		{"deep", "GET", "/v1/projects/p1/locations/us/widgets57/w-123", Found, 1},
		{"double-star", "GET", "/v1/widgets57/w-123/files/a/b/c.txt", Found, 2},
		{"escaped", "GET", "/v1/widgets57/w%2F1/parts/caf%C3%A9", Found, 2},
		{"miss", "GET", "/v2/widgets57/w-123", NotFound, 0},
		{"miss-deep", "GET", "/v1/widgets57/w-123/parts/p-9/x/y", NotFound, 0},
		{"method-not-allowed", "PUT", "/v1/widgets57/w-123", MethodNotAllowed, 0},
	} {
		b.Run(bm.name, func(b *testing.B) {
			if m, st := tb.Match(bm.method, bm.path); st != bm.want || len(m.Vars) != bm.vars {
				b.Fatalf("Match(%s %s) = %v with %d vars, want %v with %d", bm.method, bm.path, st, len(m.Vars), bm.want, bm.vars)
			}
			b.ReportAllocs()
			for b.Loop() {
				tb.Match(bm.method, bm.path)
			}
		})
		// The gateway's way: a variables buffer per request.
		b.Run(bm.name+"/buffer", func(b *testing.B) {
			b.ReportAllocs()
			var buf [4]string
			for b.Loop() {
				tb.MatchAppend(bm.method, bm.path, buf[:0])
			}
		})
	}
}

func BenchmarkMatchParallel(b *testing.B) {
	tb, err := NewTable(realisticEntries(1000))
	if err != nil {
		b.Fatal(err)
	}
	var h Holder[int]
	h.Store(tb)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			h.Load().Match("GET", "/v1/widgets57/w-123/parts/p-9")
		}
	})
}

func BenchmarkAllowed(b *testing.B) {
	tb, err := NewTable(realisticEntries(1000))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		tb.Allowed("/v1/widgets57/w-123")
	}
}

func BenchmarkNewTable10000(b *testing.B) {
	es := realisticEntries(10000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewTable(es); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseTemplate(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseTemplate("/v1/{name=projects/*/locations/*/widgets/*}:move"); err != nil {
			b.Fatal(err)
		}
	}
}
