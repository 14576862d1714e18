package discovery

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/refract-gateway/refract/discovery/etcdtest"
	"github.com/rs/zerolog"
)

func TestNewEtcdValidates(t *testing.T) {
	if _, err := NewEtcd(EtcdOptions{Prefix: "x"}); err == nil || !strings.Contains(err.Error(), "needs a client") {
		t.Errorf("no client: %v", err)
	}
	c, err := NewEtcdClient(EtcdClientOptions{Endpoints: []string{"127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err) // building a client does not wait for etcd
	}
	defer c.Close()
	if _, err := NewEtcd(EtcdOptions{Client: c, Prefix: "/"}); err == nil || !strings.Contains(err.Error(), "needs a key prefix") {
		t.Errorf("no prefix: %v", err)
	}
	for _, o := range []EtcdClientOptions{{}, {Endpoints: []string{"a:1"}, Username: "u"}, {Endpoints: []string{"a:1"}, TLS: &EtcdTLS{Cert: "c"}}} {
		if _, err := NewEtcdClient(o); err == nil {
			t.Errorf("NewEtcdClient(%+v) accepted", o)
		}
	}
}

func TestFlatMeta(t *testing.T) {
	for in, want := range map[string]string{
		`{"schema_hash":"abc","weight":3,"canary":true,"nested":{"a":1},"list":[1],"nil":null}`: "canary=true schema_hash=abc weight=3",
		`"just a string"`: "",
		``:                "",
		`{"bad":`:         "",
	} {
		var got []string
		for k, v := range flatMeta([]byte(in)) {
			got = append(got, k+"="+v)
		}
		if s := strings.Join(sorted(got), " "); s != want {
			t.Errorf("flatMeta(%s) = %q, want %q", in, s, want)
		}
	}
}

func sorted(s []string) []string {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s
}

func etcdSource(t *testing.T, c *EtcdClient, prefix string) *Etcd {
	t.Helper()
	src, err := NewEtcd(EtcdOptions{Client: c, Prefix: prefix, RequestTimeout: time.Second,
		RetryMin: 50 * time.Millisecond, RetryMax: 300 * time.Millisecond, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// TestEtcdFollowsTheServer follows a real etcd server: endpoints written
// as grpc-go's endpoints.Manager writes them, added, changed and removed;
// a bad value skipped; the server stopped (the last set stays, with the
// error) and restarted (the set is fresh again, with what changed in
// between).
func TestEtcdFollowsTheServer(t *testing.T) {
	srv := etcdtest.Start(t, etcdtest.Options{})
	admin := srv.Client()
	srv.Register(admin, "services/books", "b1", "127.0.0.1:7001", map[string]any{"schema_hash": "v1", "zone": "a"})
	srv.Register(admin, "services/books", "b2", "127.0.0.1:7002", nil)
	srv.Register(admin, "services/other", "o1", "127.0.0.1:7009", nil) // another prefix

	c, err := NewEtcdClient(EtcdClientOptions{Endpoints: []string{srv.Endpoint}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ch := updates(t, etcdSource(t, c, "services/books"))
	u := next(t, ch, "first set")
	if got := addrs(u); got != "127.0.0.1:7001 127.0.0.1:7002" || u.Err != nil {
		t.Fatalf("first set = %q (err %v)", got, u.Err)
	}
	if e := u.Endpoints[0]; e.ID != "b1" || e.Meta["schema_hash"] != "v1" || e.Meta["zone"] != "a" {
		t.Errorf("endpoint b1 = %+v", e)
	}

	// Adds, metadata changes and removals are each followed.
	start := time.Now()
	srv.Register(admin, "services/books", "b3", "127.0.0.1:7003", map[string]any{"schema_hash": "v2"})
	waitFor(t, ch, "127.0.0.1:7001 127.0.0.1:7002 127.0.0.1:7003")
	t.Logf("etcd: an added endpoint was followed in %s", time.Since(start))
	srv.Register(admin, "services/books", "b1", "127.0.0.1:7001", map[string]any{"schema_hash": "v2"})
	u = next(t, ch, "metadata change")
	if u.Endpoints[0].Meta["schema_hash"] != "v2" {
		t.Errorf("after the metadata change, b1 = %+v", u.Endpoints[0])
	}
	srv.Deregister(admin, "services/books", "b2")
	waitFor(t, ch, "127.0.0.1:7001 127.0.0.1:7003")
	put := func(k, v string) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := admin.Put(ctx, k, v); err != nil {
			t.Fatal(err)
		}
	}
	put("services/books/junk", `{"Addr":"not an address"}`)
	put("services/books/b4", `{"Op":0,"Addr":"127.0.0.1:7004","Metadata":"free text"}`)
	waitFor(t, ch, "127.0.0.1:7001 127.0.0.1:7003 127.0.0.1:7004")

	// The server goes away: the last set is pushed once with the error.
	srv.Stop()
	u = next(t, ch, "outage")
	if u.Err == nil || addrs(u) != "127.0.0.1:7001 127.0.0.1:7003 127.0.0.1:7004" {
		t.Fatalf("on the outage: %q (err %v), want the last set with an error", addrs(u), u.Err)
	}
	t.Logf("etcd outage reported as: %v", u.Err)
	select {
	case u := <-ch:
		t.Fatalf("a second push during the outage: %q (err %v)", addrs(u), u.Err)
	case <-time.After(500 * time.Millisecond):
	}

	// It comes back, having changed meanwhile (written while it was up
	// again but before the source reconnected is the same to the source).
	srv.Restart()
	admin = srv.Client()
	srv.Deregister(admin, "services/books", "b4")
	waitFor(t, ch, "127.0.0.1:7001 127.0.0.1:7003")
	start = time.Now()
	srv.Deregister(admin, "services/books", "b3")
	waitFor(t, ch, "127.0.0.1:7001")
	t.Logf("etcd: a removed endpoint was followed in %s", time.Since(start))
}

// TestEtcdTLSAndAuth reads from a server that requires client
// certificates and a password: wrong credentials fail visibly, right
// ones see the endpoints.
func TestEtcdTLSAndAuth(t *testing.T) {
	srv := etcdtest.Start(t, etcdtest.Options{TLS: true, Password: "s3cret"})
	admin := srv.Client()
	srv.Register(admin, "svc", "a", "127.0.0.1:7001", nil)
	tlsOpts := &EtcdTLS{CA: srv.CA, Cert: srv.Cert, Key: srv.Key}

	bad, err := NewEtcdClient(EtcdClientOptions{Endpoints: []string{srv.Endpoint}, TLS: tlsOpts, Username: "root", Password: "wrong"})
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	u := next(t, updates(t, etcdSource(t, bad, "svc")), "wrong password")
	if u.Err == nil || !strings.Contains(u.Err.Error(), "authentication failed") {
		t.Errorf("wrong password: %q (err %v)", addrs(u), u.Err)
	}

	good, err := NewEtcdClient(EtcdClientOptions{Endpoints: []string{srv.Endpoint}, TLS: tlsOpts, Username: "root", Password: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	ch := updates(t, etcdSource(t, good, "svc"))
	waitFor(t, ch, "127.0.0.1:7001")
	srv.Register(admin, "svc", "b", "127.0.0.1:7002", nil)
	waitFor(t, ch, "127.0.0.1:7001 127.0.0.1:7002")
}
