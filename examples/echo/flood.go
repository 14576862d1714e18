package echo

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/refract-gateway/refract/examples/echo/echopb"
)

// Limits of the streaming-test methods, as documented in echo.proto: large enough
// for a 100,000-message stream or a 64 MiB download, small enough that one call
// cannot exhaust a test machine.
const (
	maxFloodCount    = 1_000_000
	maxPayloadBytes  = 64 << 10
	maxDownloadSize  = 64 << 20
	maxChunkBytes    = 1 << 20
	defaultChunkSize = 4096
)

// Flood implements echopb.EchoServiceServer.
func (s *Service) Flood(req *echopb.FloodRequest, stream grpc.ServerStreamingServer[echopb.EchoResponse]) error {
	var v []*errdetails.BadRequest_FieldViolation
	if c := req.GetCount(); c < 0 || c > maxFloodCount {
		v = append(v, violation("count", fmt.Sprintf("must be between 0 and %d, got %d", maxFloodCount, c)))
	}
	if p := req.GetPayloadBytes(); p < 0 || p > maxPayloadBytes {
		v = append(v, violation("payload_bytes", fmt.Sprintf("must be between 0 and %d, got %d", maxPayloadBytes, p)))
	}
	if req.GetFailAfter() < 0 {
		v = append(v, violation("fail_after", fmt.Sprintf("must not be negative, got %d", req.GetFailAfter())))
	}
	if len(v) > 0 {
		return badRequest(v)
	}
	payload := strings.Repeat("x", int(req.GetPayloadBytes()))
	for i := range req.GetCount() {
		if req.GetFailAfter() > 0 && i == req.GetFailAfter() {
			return status.Errorf(codes.Aborted, "flood failed after %d responses, as asked", i)
		}
		// Send blocks while the client's flow-control window is full, so a
		// slow reader slows the flood down instead of queueing it.
		if err := stream.Send(&echopb.EchoResponse{Message: payload, Index: i}); err != nil {
			return err
		}
	}
	if req.GetFailAfter() > 0 && req.GetFailAfter() == req.GetCount() {
		return status.Errorf(codes.Aborted, "flood failed after %d responses, as asked", req.GetCount())
	}
	return nil
}

// Download implements echopb.EchoServiceServer.
func (s *Service) Download(req *echopb.DownloadRequest, stream grpc.ServerStreamingServer[httpbody.HttpBody]) error {
	var v []*errdetails.BadRequest_FieldViolation
	if n := req.GetSize(); n < 0 || n > maxDownloadSize {
		v = append(v, violation("size", fmt.Sprintf("must be between 0 and %d, got %d", maxDownloadSize, n)))
	}
	if c := req.GetChunkBytes(); c < 0 || c > maxChunkBytes {
		v = append(v, violation("chunk_bytes", fmt.Sprintf("must be between 0 and %d, got %d", maxChunkBytes, c)))
	}
	if len(v) > 0 {
		return badRequest(v)
	}
	chunk := int64(req.GetChunkBytes())
	if chunk == 0 {
		chunk = defaultChunkSize
	}
	ct := req.GetContentType()
	if ct == "" {
		ct = "application/octet-stream"
	}
	for off := int64(0); off < req.GetSize(); off += chunk {
		n := min(chunk, req.GetSize()-off)
		data := make([]byte, n)
		for i := range data {
			data[i] = byte('a' + (off+int64(i))%26)
		}
		if err := stream.Send(&httpbody.HttpBody{ContentType: ct, Data: data}); err != nil {
			return err
		}
	}
	return nil
}

// Upload implements echopb.EchoServiceServer.
func (s *Service) Upload(stream grpc.ClientStreamingServer[httpbody.HttpBody, echopb.UploadResponse]) error {
	h := sha256.New()
	out := &echopb.UploadResponse{}
	for {
		chunk, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			out.Sha256 = hex.EncodeToString(h.Sum(nil))
			return stream.SendAndClose(out)
		}
		if err != nil {
			return err
		}
		if out.Chunks == 0 {
			out.ContentType = chunk.GetContentType()
		}
		out.Chunks++
		out.Bytes += int64(len(chunk.GetData()))
		h.Write(chunk.GetData())
	}
}
