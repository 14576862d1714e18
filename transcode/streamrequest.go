package transcode

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// rawChunkBytes is the largest google.api.HttpBody message an upload is cut
// into: big enough to keep per-message overhead small, small enough that an
// upload never holds much of the body at once.
const rawChunkBytes = 32 << 10

// MessageTooLargeError reports one streamed request message over the
// per-message limit. It is a RESOURCE_EXHAUSTED status, as gRPC's own
// message size limit is.
type MessageTooLargeError struct {
	Index int64 // 0-based position of the message in the stream
	Limit int64
}

func (e *MessageTooLargeError) Error() string {
	return fmt.Sprintf("request message %d exceeds the limit of %d bytes per message", e.Index, e.Limit)
}

// GRPCStatus makes the error a RESOURCE_EXHAUSTED status.
func (e *MessageTooLargeError) GRPCStatus() *status.Status {
	return status.New(codes.ResourceExhausted, e.Error())
}

// MessageDecoder reads the request messages of a client stream from an HTTP
// body as it arrives, one at a time, never holding more than one message
// (and a read buffer) in memory. The body is newline-delimited JSON (any
// whitespace between values), or one JSON array of messages when it is sent
// as application/json and starts with '['; a google.api.HttpBody request
// takes the raw bytes in chunks instead, the first carrying the content
// type. Path variables and query parameters are applied to every message.
// Not safe for concurrent use.
type MessageDecoder struct {
	b           *Binding
	vars        []string
	rawQuery    string
	contentType string
	limit       int64
	n           int64 // messages returned

	raw   *bufio.Reader // raw mode
	dec   *json.Decoder // JSON modes
	lim   *boundedReader
	array bool
	begun bool
}

// NewMessageDecoder returns a decoder of body for b, whose request side
// streams. contentType is the request's Content-Type; limit caps each
// message's encoded size (0: no cap). It fails with a *MediaTypeError when
// the body is not JSON and the request is not google.api.HttpBody.
func (b *Binding) NewMessageDecoder(body io.Reader, contentType string, vars []string, rawQuery string, limit int64) (*MessageDecoder, error) {
	d := &MessageDecoder{b: b, vars: vars, rawQuery: rawQuery, contentType: contentType, limit: limit}
	if b.rawRequest() {
		d.raw = bufio.NewReaderSize(body, rawChunkBytes)
		return d, nil
	}
	mt := ""
	if contentType != "" {
		var err error
		if mt, _, err = mime.ParseMediaType(contentType); err != nil {
			return nil, &MediaTypeError{ContentType: contentType}
		}
	}
	switch {
	case mt == "" || mt == NDJSONContentType || mt == "application/jsonl" || mt == "application/json":
	case strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"):
	default:
		return nil, &MediaTypeError{ContentType: contentType}
	}
	// A JSON array of messages is only looked for in a JSON document: an
	// NDJSON line may itself be an array (a repeated body field).
	d.array = mt != NDJSONContentType && mt != "application/jsonl"
	d.lim = &boundedReader{r: body, limit: limit}
	d.dec = json.NewDecoder(d.lim)
	d.lim.offset = d.dec.InputOffset
	return d, nil
}

// Next returns the next request message, io.EOF after the last one, or an
// error: INVALID_ARGUMENT naming the message and what is wrong with it,
// RESOURCE_EXHAUSTED (*MessageTooLargeError) for a message over the limit,
// or the body's read error.
func (d *MessageDecoder) Next() (proto.Message, error) {
	if d.raw != nil {
		return d.nextRaw()
	}
	if !d.begun {
		d.begun = true
		if d.array {
			// Look at the first token without consuming a message.
			if d.isArray() {
				if _, err := d.dec.Token(); err != nil {
					return nil, d.bodyErr(err)
				}
			} else {
				d.array = false
			}
		}
	}
	if d.array {
		if !d.dec.More() {
			if _, err := d.dec.Token(); err != nil { // the closing ']'
				return nil, d.bodyErr(err)
			}
			if _, err := d.dec.Token(); !errors.Is(err, io.EOF) {
				return nil, status.Errorf(codes.InvalidArgument, "request body: unexpected data after the JSON array of %d messages", d.n)
			}
			return nil, io.EOF
		}
	}
	var raw json.RawMessage
	if err := d.dec.Decode(&raw); err != nil {
		if errors.Is(err, io.EOF) && !d.array {
			return nil, io.EOF
		}
		return nil, d.bodyErr(err)
	}
	msg, err := d.b.DecodeRequest(Request{Vars: d.vars, RawQuery: d.rawQuery, Body: raw})
	if err != nil {
		st := status.Convert(err)
		return nil, status.Errorf(st.Code(), "message %d: %s", d.n, st.Message())
	}
	d.n++
	return msg, nil
}

// isArray peeks at the first non-space byte of the body.
func (d *MessageDecoder) isArray() bool {
	br := bufio.NewReader(d.lim)
	for {
		c, err := br.ReadByte()
		if err != nil {
			d.dec = json.NewDecoder(io.MultiReader(br, d.lim))
			d.lim.offset = d.dec.InputOffset
			return false
		}
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			continue
		}
		_ = br.UnreadByte()
		// The bytes peeked are in br; decode from it, then the rest.
		d.dec = json.NewDecoder(io.MultiReader(br, d.lim))
		d.lim.offset = d.dec.InputOffset
		return c == '['
	}
}

func (d *MessageDecoder) bodyErr(err error) error {
	var tooBig *MessageTooLargeError
	if errors.As(err, &tooBig) {
		tooBig.Index = d.n
		return tooBig
	}
	var syn *json.SyntaxError
	if errors.As(err, &syn) || errors.Is(err, io.ErrUnexpectedEOF) {
		return status.Errorf(codes.InvalidArgument, "request body: message %d is not valid JSON: %v", d.n, err)
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		return status.Errorf(codes.InvalidArgument, "request body: message %d: %v", d.n, err)
	}
	if errors.Is(err, io.EOF) {
		return status.Errorf(codes.InvalidArgument, "request body: the JSON array of messages is not closed after %d messages", d.n)
	}
	return err
}

func (d *MessageDecoder) nextRaw() (proto.Message, error) {
	size := int64(rawChunkBytes)
	if d.limit > 0 && d.limit < size {
		size = d.limit
	}
	buf := make([]byte, size)
	n, err := io.ReadFull(d.raw, buf)
	if n == 0 {
		if errors.Is(err, io.EOF) {
			if d.n == 0 {
				// An empty upload is one empty message, so the upstream still
				// learns the content type.
				d.n++
				return d.b.DecodeRequest(Request{Vars: d.vars, RawQuery: d.rawQuery, Body: nil, ContentType: d.contentType})
			}
			return nil, io.EOF
		}
		return nil, err
	}
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, err
	}
	ct := ""
	if d.n == 0 {
		ct = d.contentType
	}
	d.n++
	return d.b.DecodeRequest(Request{Vars: d.vars, RawQuery: d.rawQuery, Body: buf[:n], ContentType: ct})
}

// rawRequest reports whether the body binds to a google.api.HttpBody.
func (b *Binding) rawRequest() bool {
	if b.bodyStar {
		return isHTTPBody(b.Method.Input())
	}
	if b.hasBody {
		f := b.body[len(b.body)-1]
		return !f.IsList() && !f.IsMap() && isHTTPBody(f.Message())
	}
	return false
}

// boundedReader fails a read once the JSON value being decoded has grown
// past limit bytes: the decoder buffers the whole value, so the check must
// happen while reading, not after.
type boundedReader struct {
	r      io.Reader
	limit  int64
	read   int64
	offset func() int64 // the decoder's position: the end of the last value
}

func (br *boundedReader) Read(p []byte) (int, error) {
	if br.limit > 0 {
		pending := br.read - br.offset()
		if pending > br.limit {
			return 0, &MessageTooLargeError{Limit: br.limit}
		}
		if room := br.limit - pending + 1; int64(len(p)) > room {
			p = p[:room]
		}
	}
	n, err := br.r.Read(p)
	br.read += int64(n)
	return n, err
}
