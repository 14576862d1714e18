package policy

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/refract-gateway/refract/transcode/rpcstatus"
	"google.golang.org/grpc/codes"
)

// SizeLimit caps request bodies at max bytes: a declared Content-Length
// over the cap gets 413 at once, before authentication spends any work on
// the request; a body that turns out longer fails when it is read
// (http.MaxBytesError, which the gateway answers with 413 too). It can only
// lower the gateway-wide max_body_bytes, which is still applied. Nil when
// max <= 0.
func SizeLimit(max int64) Policy {
	if max <= 0 {
		return nil
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > max {
				rpcstatus.WriteStatus(w, http.StatusRequestEntityTooLarge, codes.InvalidArgument,
					fmt.Sprintf("request body exceeds the limit of %d bytes", max))
				return
			}
			if r.Body != nil && r.Body != http.NoBody {
				r.Body = http.MaxBytesReader(w, r.Body, max)
			}
			next.ServeHTTP(w, r)
		})
	}
}

// BodyPace bounds how long a request body may take to arrive: Grace from
// the first read, plus one second for every MinRate bytes received, so a
// body trickled in (a byte a second) or announced and never finished is cut
// off after about Grace, while a large body on a slow link is given the
// time its size needs. A zero Grace or MinRate turns pacing off.
type BodyPace struct {
	Grace   time.Duration
	MinRate int64 // bytes per second
}

// deadline is when a body that started at start and has received bytes so
// far must have sent its next bytes.
func (p BodyPace) deadline(start time.Time, received int64) time.Time {
	return start.Add(p.Grace + time.Duration(float64(received)/float64(p.MinRate)*float64(time.Second)))
}

// BodyTimeoutError is ReadBody's error when the body did not arrive within
// its BodyPace (answer 408).
type BodyTimeoutError struct {
	Pace     BodyPace
	Received int64 // bytes received before the deadline
}

func (e *BodyTimeoutError) Error() string {
	return fmt.Sprintf("the request body did not arrive in time (%d bytes received): the limit is %s "+
		"(limits.body_read_timeout) plus 1s per %d bytes received (limits.min_body_rate); send it faster",
		e.Received, e.Pace.Grace, e.Pace.MinRate)
}

// ReadBody reads r's body whole within limit bytes and pace: a declared
// Content-Length over limit, or a body that turns out longer, is an
// *http.MaxBytesError (answer 413); a body that does not arrive within
// pace is a *BodyTimeoutError (answer 408). The pace is a read deadline on
// the request (http.ResponseController), so it holds on HTTP/1 and HTTP/2
// alike; it replaces the server's read timeout while the body is read. A
// body of known length is read in one allocation. nil for no body.
func ReadBody(w http.ResponseWriter, r *http.Request, limit int64, pace BodyPace) ([]byte, error) {
	return ReadBodyInto(nil, w, r, limit, pace)
}

// ReadBodyInto is ReadBody reading into buf's storage (a BodyBuffers
// buffer) when it is large enough; the body returned may share it.
func ReadBodyInto(buf []byte, w http.ResponseWriter, r *http.Request, limit int64, pace BodyPace) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if r.ContentLength > limit {
		return nil, &http.MaxBytesError{Limit: limit}
	}
	body := r.Body
	if r.ContentLength < 0 {
		// A declared length within the limit needs no counting reader of
		// its own (the server ends the body there; the loop checks a body
		// a policy replaced).
		body = http.MaxBytesReader(w, r.Body, limit)
	}
	// The announced size in one allocation (net/http returns the last bytes
	// with EOF), where io.ReadAll doubles its way up from 512 bytes.
	if want := int(max(r.ContentLength, 512)); cap(buf) < want {
		buf = make([]byte, 0, want)
	}
	buf = buf[:0]
	rc := http.NewResponseController(w)
	paced := pace.Grace > 0 && pace.MinRate > 0
	start := time.Now()
	if paced && rc.SetReadDeadline(pace.deadline(start, 0)) != nil {
		paced = false // a writer without deadlines (tests): unpaced
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		switch {
		case int64(len(buf)) > limit:
			return nil, &http.MaxBytesError{Limit: limit}
		case err == io.EOF:
			// No deadline to lift: at EOF net/http lifts it itself (HTTP/1)
			// or its expiry finds the body done (HTTP/2).
			return buf, nil
		case err != nil && paced && errors.Is(err, os.ErrDeadlineExceeded):
			return nil, &BodyTimeoutError{Pace: pace, Received: int64(len(buf))}
		case err != nil:
			return nil, err
		case paced && n > 0:
			_ = rc.SetReadDeadline(pace.deadline(start, int64(len(buf))))
		}
	}
}

// WriteBodyError answers a ReadBody error: 413 over the limit, 408 for a
// body that did not arrive in time (closing an HTTP/1 connection, whose
// unread rest of the body cannot be skipped), 400 otherwise.
func WriteBodyError(w http.ResponseWriter, r *http.Request, err error) {
	var tooBig *http.MaxBytesError
	var slow *BodyTimeoutError
	switch {
	case errors.As(err, &tooBig):
		rpcstatus.WriteStatus(w, http.StatusRequestEntityTooLarge, codes.InvalidArgument,
			fmt.Sprintf("request body exceeds the limit of %d bytes", tooBig.Limit))
	case errors.As(err, &slow):
		if r.ProtoMajor == 1 {
			w.Header().Set("Connection", "close")
		}
		// DEADLINE_EXCEEDED: a deadline (the gateway's, for the body)
		// passed; 408, not the code's 504, since the client was late, not
		// an upstream.
		rpcstatus.WriteStatus(w, http.StatusRequestTimeout, codes.DeadlineExceeded, slow.Error())
	default:
		rpcstatus.WriteStatus(w, http.StatusBadRequest, codes.InvalidArgument, "reading request body: "+err.Error())
	}
}
