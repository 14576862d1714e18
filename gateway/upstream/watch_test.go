package upstream

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/refract-gateway/refract/discovery"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

// scripted is a discovery source that pushes a fixed sequence of updates,
// one per call of next, then waits for ctx. A fake on purpose: the real
// sources are tested in discovery; here only what the upstream makes of a
// sequence matters.
type scripted struct {
	updates []discovery.Update
	step    chan struct{} // next asks for one more update
	pushed  chan struct{} // and learns here that push has returned
}

func newScripted(updates ...discovery.Update) *scripted {
	return &scripted{updates: updates, step: make(chan struct{}), pushed: make(chan struct{})}
}

func (s *scripted) String() string { return "scripted" }

func (s *scripted) Watch(ctx context.Context, push func(discovery.Update)) {
	for _, up := range s.updates {
		select {
		case <-s.step:
		case <-ctx.Done():
			return
		}
		push(up)
		s.pushed <- struct{}{}
	}
	<-ctx.Done()
}

// next pushes the next update and returns once the upstream has taken it.
func (s *scripted) next() {
	s.step <- struct{}{}
	<-s.pushed
}

// Watch keeps the last known set through failures, and Unavailable says
// why calls cannot go out: nothing known yet, or no healthy endpoint.
func TestWatchKeepsTheLastKnownSet(t *testing.T) {
	boom := errors.New("agent down")
	eps := []discovery.Endpoint{{Addr: "127.0.0.1:1"}}
	src := newScripted(
		discovery.Update{Err: boom},
		discovery.Update{Endpoints: eps},
		discovery.Update{Err: boom},
		discovery.Update{Err: boom},
		discovery.Update{Endpoints: []discovery.Endpoint{}},
	)
	u, err := New(Options{Name: "library", Source: src})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	if u.State() != nil || u.Unavailable() != "" {
		t.Fatalf("before discovery said anything: state %+v, unavailable %q", u.State(), u.Unavailable())
	}
	clock := time.Unix(1000, 0)
	now := func() time.Time { clock = clock.Add(time.Second); return clock }
	changes := 0
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		u.Watch(ctx, now, func(discovery.Update) { changes++ })
	}()
	defer func() { cancel(); <-done }()

	src.next() // an error before any set
	if st := u.State(); st.Known || st.Err != boom || !strings.Contains(u.Unavailable(), `upstream "library" unavailable: no endpoint known yet: agent down`) {
		t.Fatalf("failing before any set: %+v, %q", st, u.Unavailable())
	}
	src.next() // a set
	if st := u.State(); !st.Known || st.Err != nil || len(st.Endpoints) != 1 || u.Unavailable() != "" || changes != 1 {
		t.Fatalf("after a set: %+v, %q, %d changes", st, u.Unavailable(), changes)
	}
	src.next() // failing: the set stays
	first := u.State().Since
	src.next() // still failing: since when stays
	if st := u.State(); !st.Known || st.Err != boom || len(st.Endpoints) != 1 || !st.Since.Equal(first) || u.Unavailable() != "" || changes != 1 {
		t.Fatalf("stale: %+v (first failure at %v), %q, %d changes", st, first, u.Unavailable(), changes)
	}
	src.next() // an empty set
	if want := `upstream "library" unavailable: scripted reports no healthy endpoint`; u.Unavailable() != want || changes != 2 {
		t.Fatalf("empty set: %q, want %q; %d changes", u.Unavailable(), want, changes)
	}
}

// A tag subset balances over the upstream's endpoints that carry all its
// tags, and follows discovery; a static one keeps its own list.
func TestTagSubsetFollowsDiscovery(t *testing.T) {
	stable, canary := startFailing(t), startFailing(t)
	eps := []discovery.Endpoint{
		{Addr: stable.Addr, Tags: []string{"v1"}},
		{Addr: canary.Addr, Tags: []string{"v2", "canary"}},
	}
	src := newScripted(discovery.Update{Endpoints: eps})
	u, err := New(Options{Name: "library", Source: src, Subsets: []SubsetOptions{
		{Name: "canary", Tags: []string{"canary", "v2"}},
		{Name: "pinned", Static: []string{stable.Addr}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	if u.Subset("none") != nil {
		t.Fatal("a subset nobody declared")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); u.Watch(ctx, time.Now, func(discovery.Update) {}) }()
	defer func() { cancel(); <-done }()
	src.next()

	call := func(conn *grpc.ClientConn) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = conn.Invoke(ctx, "/library.v1.LibraryService/GetShelf", &emptypb.Empty{}, &emptypb.Empty{})
	}
	for range 4 {
		call(u.Subset("canary").Conn())
	}
	if s, c := stable.n(), canary.n(); s != 0 || c != 4 {
		t.Fatalf("canary subset: stable got %d calls, canary %d; want 0 and 4", s, c)
	}
	for range 3 {
		call(u.Subset("pinned").Conn())
	}
	if s, c := stable.n(), canary.n(); s != 3 || c != 4 {
		t.Fatalf("static subset: stable got %d calls, canary %d; want 3 and 4", s, c)
	}
}

func TestHasAll(t *testing.T) {
	for _, tc := range []struct {
		have, want []string
		ok         bool
	}{
		{nil, nil, true},
		{[]string{"a"}, nil, true},
		{nil, []string{"a"}, false},
		{[]string{"a", "b"}, []string{"b", "a"}, true},
		{[]string{"a"}, []string{"a", "b"}, false},
	} {
		if got := hasAll(tc.have, tc.want); got != tc.ok {
			t.Errorf("hasAll(%q, %q) = %v, want %v", tc.have, tc.want, got, tc.ok)
		}
	}
}
