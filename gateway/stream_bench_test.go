package gateway_test

import (
	"bufio"
	"fmt"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/refract-gateway/refract/examples"
)

// BenchmarkServerStream measures a server stream through a real HTTP
// listener and the gateway: one op is one 100-byte message delivered to
// the client, in streams of 10,000 (NDJSON and SSE). It also reports the
// heap in use after the run, which stays flat however long the stream is.
func BenchmarkServerStream(b *testing.B) {
	echo, err := examples.StartEcho("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(echo.Stop)
	gw := benchGatewayConfig(b, echoConfig(echo.Addr, ""))
	srv := httptest.NewServer(gw)
	b.Cleanup(srv.Close)
	const perStream = 10_000
	for _, accept := range []string{"application/x-ndjson", "text/event-stream"} {
		b.Run(accept, func(b *testing.B) {
			b.ReportAllocs()
			left := b.N
			for left > 0 {
				n := min(left, perStream)
				left -= n
				body := fmt.Sprintf(`{"count":%d,"payloadBytes":100}`, n)
				req := httptest.NewRequest("POST", srv.URL+"/echo.v1.EchoService/Flood", strings.NewReader(body))
				req.RequestURI = ""
				req.Header.Set("Accept", accept)
				resp, err := srv.Client().Do(req)
				if err != nil {
					b.Fatal(err)
				}
				sc := bufio.NewScanner(resp.Body)
				got := 0
				for sc.Scan() {
					if strings.Contains(sc.Text(), `"index"`) {
						got++
					}
				}
				resp.Body.Close()
				if got != n {
					b.Fatalf("received %d messages, want %d", got, n)
				}
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
		})
	}
}
