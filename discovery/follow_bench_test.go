package discovery

import (
	"fmt"
	"testing"
	"time"

	"github.com/refract-gateway/refract/discovery/consultest"
	"github.com/refract-gateway/refract/discovery/dnstest"
	"github.com/refract-gateway/refract/discovery/etcdtest"
	"github.com/rs/zerolog"
)

// The benchmarks below measure how fast each source follows a change: one
// op is one change made on the real server and waited for in a push, so
// ns/op is the follow latency (the write or the answer change included).

func BenchmarkEtcdFollow(b *testing.B) {
	srv := etcdtest.Start(b, etcdtest.Options{})
	admin := srv.Client()
	c, err := NewEtcdClient(EtcdClientOptions{Endpoints: []string{srv.Endpoint}})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	src, _ := NewEtcd(EtcdOptions{Client: c, Prefix: "bench", Logger: zerolog.Nop()})
	ch := updates(b, src)
	<-ch
	b.ResetTimer()
	for i := range b.N {
		srv.Register(admin, "bench", "e", fmt.Sprintf("127.0.0.1:%d", 1000+i%2), nil)
		<-ch
	}
}

func BenchmarkDNSResolveNow(b *testing.B) {
	srv := dnstest.Start(b)
	const name = "bench.refract.test."
	srv.Set(name, "127.0.0.1")
	t, _ := ParseDNSTarget("dns://"+srv.Addr+"/"+name+":9090", false)
	src, _ := NewDNS(DNSOptions{Target: t, Interval: time.Hour, MinInterval: time.Nanosecond, Logger: zerolog.Nop()})
	ch := updates(b, src)
	<-ch
	b.ResetTimer()
	for i := range b.N {
		srv.Set(name, fmt.Sprintf("127.0.0.%d", 2+i%2))
		src.ResolveNow()
		<-ch
	}
}

func BenchmarkConsulFailover(b *testing.B) {
	dc1 := consultest.StartDC(b, "dc1")
	dc2 := consultest.StartDC(b, "dc2")
	dc1.JoinWAN(dc2)
	dc1.Register(consultest.Instance{ID: "a", Service: "books", Addr: "127.0.0.1:7001"})
	dc2.Register(consultest.Instance{ID: "b", Service: "books", Addr: "127.0.0.2:7001"})
	src, _ := NewConsulFailover(ConsulOptions{Client: dc1.Client(), Service: "books", PassingOnly: true, Logger: zerolog.Nop()}, []string{"dc1", "dc2"})
	ch := updates(b, src)
	<-ch
	b.ResetTimer()
	for i := range b.N {
		if i%2 == 0 {
			dc1.Fail("a")
		} else {
			dc1.Pass("a")
		}
		<-ch
	}
}
