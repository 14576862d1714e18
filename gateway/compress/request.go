package compress

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// maxZstdWindow bounds the window a zstd request body may ask for: the
// decoder's memory, whatever the body's frame header claims.
const maxZstdWindow = 8 << 20

// UnsupportedError is a request Content-Encoding the gateway cannot decode.
type UnsupportedError struct{ Encoding string }

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("Content-Encoding %q is not supported: send the body as is, or with gzip or zstd", e.Encoding)
}

// DecodeRequest replaces a coded request body by its decoding, as it is
// read: nothing is decoded ahead of the reader, so a reader that stops at
// a limit has decoded no more than that. It drops Content-Encoding and the
// (coded) Content-Length. A body without coding, or with identity, is left
// alone.
func DecodeRequest(r *http.Request) error {
	enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding")))
	if enc == "" || enc == "identity" || r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	var dec io.ReadCloser
	switch enc {
	case "gzip", "x-gzip":
		dec = &lazyGzip{src: r.Body}
	case "zstd":
		zr, err := zstd.NewReader(r.Body, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(maxZstdWindow))
		if err != nil {
			return err
		}
		dec = &zstdBody{zr: zr, src: r.Body}
	default:
		return &UnsupportedError{Encoding: enc}
	}
	r.Body = dec
	r.Header.Del("Content-Encoding")
	r.Header.Del("Content-Length")
	r.ContentLength = -1
	return nil
}

// lazyGzip reads the gzip header at the first Read, so that a request
// whose body nobody reads costs nothing.
type lazyGzip struct {
	src io.ReadCloser
	zr  *gzip.Reader
	err error
}

func (g *lazyGzip) Read(p []byte) (int, error) {
	if g.zr == nil && g.err == nil {
		g.zr, g.err = gzip.NewReader(g.src)
	}
	if g.err != nil {
		return 0, g.err
	}
	return g.zr.Read(p)
}

func (g *lazyGzip) Close() error { return g.src.Close() }

type zstdBody struct {
	zr  *zstd.Decoder
	src io.ReadCloser
}

func (z *zstdBody) Read(p []byte) (int, error) { return z.zr.Read(p) }

func (z *zstdBody) Close() error {
	z.zr.Close()
	return z.src.Close()
}
