package compress

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// countingReader counts the coded bytes the decoder pulled.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func (c *countingReader) Close() error { return nil }

// TestBombStopsAtTheLimit: a reader limited to 1 MiB of decoded bytes gets
// its error having decoded little more than that, and having pulled only
// a small part of a 64 MiB bomb's coded bytes.
func TestBombStopsAtTheLimit(t *testing.T) {
	const limit = 1 << 20
	for _, enc := range []string{"gzip", "zstd"} {
		var coded bytes.Buffer
		var w io.WriteCloser
		if enc == "gzip" {
			w = gzip.NewWriter(&coded)
		} else {
			w, _ = zstd.NewWriter(&coded)
		}
		zeros := make([]byte, 1<<20)
		for range 64 {
			_, _ = w.Write(zeros)
		}
		_ = w.Close()
		src := &countingReader{r: bytes.NewReader(coded.Bytes())}
		r := httptest.NewRequest("POST", "/", nil)
		r.Body = src
		r.Header.Set("Content-Encoding", enc)
		if err := DecodeRequest(r); err != nil {
			t.Fatal(err)
		}
		body := http.MaxBytesReader(httptest.NewRecorder(), r.Body, limit)
		n, err := io.Copy(io.Discard, body)
		var mbe *http.MaxBytesError
		if !errors.As(err, &mbe) || n != limit {
			t.Fatalf("%s: read %d, %v", enc, n, err)
		}
		if src.n > coded.Len()/8 {
			t.Fatalf("%s: the decoder pulled %d of %d coded bytes to give %d", enc, src.n, coded.Len(), limit)
		}
		if r.Header.Get("Content-Encoding") != "" || r.ContentLength != -1 {
			t.Fatalf("%s: headers %v, length %d", enc, r.Header, r.ContentLength)
		}
	}
}

func TestUnsupportedCoding(t *testing.T) {
	r := httptest.NewRequest("POST", "/", bytes.NewReader([]byte("x")))
	r.Header.Set("Content-Encoding", "deflate")
	var ue *UnsupportedError
	if err := DecodeRequest(r); !errors.As(err, &ue) || ue.Encoding != "deflate" {
		t.Fatalf("err %v", err)
	}
	r = httptest.NewRequest("POST", "/", bytes.NewReader([]byte("x")))
	r.Header.Set("Content-Encoding", "identity")
	if err := DecodeRequest(r); err != nil {
		t.Fatal(err)
	}
}
