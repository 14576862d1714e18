package reflection_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/refract-gateway/refract/reflection"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/descriptorpb"
)

// breakingDeploy is library v2 without ListBooks and with Book.title an
// int64: a deploy that removes a method and changes a field's type.
func breakingDeploy() *descriptorpb.FileDescriptorProto {
	fdp := libraryFile(schemaOpts{version: 2})
	fdp.Service[0].Method = fdp.Service[0].Method[:1]
	fdp.MessageType[0].Field[1].Type = descriptorpb.FieldDescriptorProto_TYPE_INT64.Enum()
	return fdp
}

// refresh fetches now, retrying while the connection comes back after a
// restart of the backend (grpc-go reconnects after a backoff).
func refresh(t *testing.T, c *reflection.Cache, name string) (*reflection.Snapshot, error) {
	t.Helper()
	for i := 0; ; i++ {
		snap, err := c.Refresh(context.Background(), name)
		if status.Code(err) != codes.Unavailable || i == 500 {
			return snap, err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// redeploy stops srv, waits until conn has seen it go, and serves fdp on
// its address once conn is connected again.
func redeploy(t *testing.T, srv *testServer, conn *grpc.ClientConn, fdp *descriptorpb.FileDescriptorProto) *testServer {
	t.Helper()
	srv.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for s := conn.GetState(); s == connectivity.Ready; s = conn.GetState() {
		conn.WaitForStateChange(ctx, s)
	}
	next := startServer(t, serverConfig{files: serverFiles(t, nil, fdp), v1: true, addr: srv.addr})
	for s := conn.GetState(); s != connectivity.Ready && ctx.Err() == nil; s = conn.GetState() {
		conn.Connect()
		conn.WaitForStateChange(ctx, s)
	}
	return next
}

func TestHoldKeepsABreakingSchemaUntilApproved(t *testing.T) {
	srv := libraryServer(t, schemaOpts{version: 2}, serverConfig{})
	c := newCache(t, reflection.Options{})
	conn := dial(t, srv.addr)
	if err := c.AddWith("library", conn, reflection.UpstreamOptions{HoldBreaking: true}); err != nil {
		t.Fatal(err)
	}
	v2, err := refresh(t, c, "library")
	if err != nil {
		t.Fatal(err)
	}

	srv = redeploy(t, srv, conn, breakingDeploy())
	if got, err := refresh(t, c, "library"); err != nil || got != v2 {
		t.Fatalf("refresh: %v, %v; want the serving v2", got, err)
	}
	if c.Snapshot("library") != v2 {
		t.Fatal("a breaking schema was adopted under hold")
	}
	st := c.Stats()[0]
	if st.Held == nil || st.Held.Hash == v2.Hash || st.SchemaChanges != [2]uint64{0, 1} {
		t.Fatalf("stats %+v", st)
	}
	held := st.Held.Hash

	hist, err := c.History("library")
	if err != nil || len(hist) != 2 || hist[0].Hash != held || hist[0].State != "held" || !hist[0].Breaking ||
		hist[1].State != "serving" || hist[0].Previous != v2.Hash || len(hist[0].Endpoints) != 1 {
		t.Fatalf("history %+v, %v", hist, err)
	}
	d, err := c.Diff("library", "", "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ch := range d.Changes {
		got = append(got, ch.String())
	}
	joined := strings.Join(got, "\n")
	for _, w := range []string{
		"breaking: changed field test.library.v1.Book.title: type string → int64",
		"breaking: removed method test.library.v1.Library.ListBooks: method removed ((test.library.v1.ListBooksRequest) returns (test.library.v1.ListBooksResponse))",
	} {
		if !strings.Contains(joined, w) {
			t.Errorf("diff lacks %q:\n%s", w, joined)
		}
	}
	if d.From != v2.Hash || d.To != held {
		t.Fatalf("diff %s → %s", d.From, d.To)
	}
	if dl, err := c.Version("library", held[:12]); err != nil || dl.Hash != held || dl.DescriptorSet() == nil {
		t.Fatalf("version: %v, %v", dl, err)
	}

	if _, err := c.Approve("library", v2.Hash); !errors.Is(err, reflection.ErrNothingHeld) {
		t.Fatalf("approving another hash: %v", err)
	}
	a, err := c.Approve("library", held)
	if err != nil || a.Hash != held {
		t.Fatalf("approve: %+v, %v", a, err)
	}
	if s := c.Snapshot("library"); s == nil || s.Hash != held || c.Stats()[0].Held != nil {
		t.Fatal("the approved schema is not served")
	}
	if _, err := c.Approve("library", ""); !errors.Is(err, reflection.ErrNothingHeld) {
		t.Fatalf("approving twice: %v", err)
	}
}

func TestHoldAdoptsAdditionsAndForgetsReverts(t *testing.T) {
	srv := libraryServer(t, schemaOpts{version: 1}, serverConfig{})
	c := newCache(t, reflection.Options{})
	conn := dial(t, srv.addr)
	if err := c.AddWith("library", conn, reflection.UpstreamOptions{HoldBreaking: true}); err != nil {
		t.Fatal(err)
	}
	v1, err := refresh(t, c, "library")
	if err != nil {
		t.Fatal(err)
	}
	srv = redeploy(t, srv, conn, libraryFile(schemaOpts{version: 2}))
	v2, err := refresh(t, c, "library")
	if err != nil || v2 == v1 || c.Snapshot("library") != v2 {
		t.Fatal("a non-breaking addition was not adopted at once")
	}
	srv = redeploy(t, srv, conn, libraryFile(schemaOpts{version: 1})) // a rollback removes ListBooks: breaking
	if _, err := refresh(t, c, "library"); err != nil || c.Stats()[0].Held == nil {
		t.Fatalf("rollback not held: %v", err)
	}
	srv = redeploy(t, srv, conn, libraryFile(schemaOpts{version: 2})) // and reverted
	if _, err := refresh(t, c, "library"); err != nil {
		t.Fatal(err)
	}
	if st := c.Stats()[0]; st.Held != nil || c.Snapshot("library") != v2 || st.SchemaChanges != [2]uint64{2, 1} {
		t.Fatalf("after the revert: %+v", st)
	}
	hist, _ := c.History("library")
	if len(hist) != 2 || hist[0].Hash != v2.Hash || hist[0].Previous != v1.Hash || hist[0].Breaking {
		t.Fatalf("history %+v", hist)
	}
	if _, err := c.Diff("library", "abc", ""); !errors.Is(err, reflection.ErrUnknownVersion) {
		t.Fatalf("diff with a short hash: %v", err)
	}
}

func TestHistoryKeepsTheServingVersion(t *testing.T) {
	srv := libraryServer(t, schemaOpts{version: 2}, serverConfig{})
	c := newCache(t, reflection.Options{History: 2})
	conn := dial(t, srv.addr)
	if err := c.AddWith("library", conn, reflection.UpstreamOptions{HoldBreaking: true}); err != nil {
		t.Fatal(err)
	}
	serving, err := refresh(t, c, "library")
	if err != nil {
		t.Fatal(err)
	}
	srv = redeploy(t, srv, conn, breakingDeploy())
	if _, err := refresh(t, c, "library"); err != nil {
		t.Fatal(err)
	}
	srv = redeploy(t, srv, conn, libraryFile(schemaOpts{version: 1})) // another breaking one
	if _, err := refresh(t, c, "library"); err != nil {
		t.Fatal(err)
	}
	hist, _ := c.History("library")
	if len(hist) != 2 || hist[0].State != "held" || hist[1].Hash != serving.Hash || hist[1].State != "serving" {
		t.Fatalf("history %+v", hist)
	}
	if d, err := c.Diff("library", "", ""); err != nil || d.From != serving.Hash || len(d.Changes) == 0 {
		t.Fatalf("diff %+v, %v", d, err)
	}
}
