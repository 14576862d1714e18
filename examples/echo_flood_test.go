package examples

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"testing"

	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"

	"github.com/refract-gateway/refract/examples/echo/echopb"
)

func TestEchoFlood(t *testing.T) {
	c := echoClient(t)
	stream, err := c.Flood(t.Context(), &echopb.FloodRequest{Count: 5, PayloadBytes: 3, FailAfter: 3})
	if err != nil {
		t.Fatal(err)
	}
	for i := range int32(3) {
		resp, err := stream.Recv()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		equal(t, "Flood response", resp, &echopb.EchoResponse{Message: "xxx", Index: i})
	}
	_, err = stream.Recv()
	if st := wantCode(t, err, codes.Aborted); st.Message() != "flood failed after 3 responses, as asked" {
		t.Fatalf("message %q", st.Message())
	}

	all, err := c.Flood(t.Context(), &echopb.FloodRequest{Count: 1000})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		_, err := all.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 1000 {
		t.Fatalf("%d messages", n)
	}

	bad, err := c.Flood(t.Context(), &echopb.FloodRequest{Count: -1, PayloadBytes: 1 << 20, FailAfter: -1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = bad.Recv()
	if v := detail[*errdetails.BadRequest](t, wantCode(t, err, codes.InvalidArgument)).GetFieldViolations(); len(v) != 3 {
		t.Fatalf("violations %v", v)
	}
}

func TestEchoDownloadUpload(t *testing.T) {
	c := echoClient(t)
	down, err := c.Download(t.Context(), &echopb.DownloadRequest{Size: 10, ChunkBytes: 4, ContentType: "text/plain"})
	if err != nil {
		t.Fatal(err)
	}
	up, err := c.Upload(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var data []byte
	var chunks []string
	for {
		chunk, err := down.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if chunk.GetContentType() != "text/plain" {
			t.Fatalf("content type %q", chunk.GetContentType())
		}
		chunks = append(chunks, string(chunk.GetData()))
		data = append(data, chunk.GetData()...)
		if err := up.Send(&httpbody.HttpBody{ContentType: chunk.GetContentType(), Data: chunk.GetData()}); err != nil {
			t.Fatal(err)
		}
	}
	if len(chunks) != 3 || string(data) != "abcdefghij" {
		t.Fatalf("chunks %q", chunks)
	}
	resp, err := up.CloseAndRecv()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	equal(t, "Upload", resp, &echopb.UploadResponse{ContentType: "text/plain", Chunks: 3, Bytes: 10, Sha256: hex.EncodeToString(sum[:])})

	bad, err := c.Download(t.Context(), &echopb.DownloadRequest{Size: -1, ChunkBytes: 1 << 21})
	if err != nil {
		t.Fatal(err)
	}
	_, err = bad.Recv()
	if v := detail[*errdetails.BadRequest](t, wantCode(t, err, codes.InvalidArgument)).GetFieldViolations(); len(v) != 2 {
		t.Fatalf("violations %v", v)
	}
}
