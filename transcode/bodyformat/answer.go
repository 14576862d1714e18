package bodyformat

import (
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/refract-gateway/refract/transcode"
	"github.com/refract-gateway/refract/transcode/rpcstatus"
	"google.golang.org/grpc/codes"
)

// XMLContentType is the Content-Type of XML answers.
const XMLContentType = "application/xml; charset=utf-8"

// Answer checks the client's Accept for a call of the route and returns
// the writer to answer through: w itself for JSON, a Writer that renders
// the successful JSON answer as XML when the route has XML and Accept
// prefers it. Errors stay google.rpc.Status JSON either way. It answers
// 406 itself and returns nil when Accept allows neither. Call Finish on
// the returned writer once the answer is written.
func (rt *Route) Answer(w http.ResponseWriter, r *http.Request) http.ResponseWriter {
	accept := r.Header.Values("Accept")
	raw := rt.b.RawResponse()
	if rt.o.XML && !raw {
		w.Header().Add("Vary", "Accept")
	}
	switch {
	case len(accept) == 0 || raw:
		return w
	case rt.o.XML && prefersXML(accept):
		return &Writer{ResponseWriter: w, rt: rt}
	case transcode.AcceptsJSON(accept):
		return w
	}
	offer := "application/json"
	if rt.o.XML {
		offer += " or application/xml"
	}
	rpcstatus.WriteStatus(w, http.StatusNotAcceptable, codes.InvalidArgument, fmt.Sprintf(
		"Accept %q allows none of what this method answers: %s", strings.Join(accept, ", "), offer))
	return nil
}

// prefersXML reports whether the best quality the Accept values give XML
// (application/xml, text/xml, text/*) is above the best they give JSON
// (application/json, application/*+json, application/*, */*): JSON wins
// ties.
func prefersXML(values []string) bool {
	var xmlQ, jsonQ float64
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			q := 1.0
			if s, ok := params["q"]; ok {
				if q, err = strconv.ParseFloat(strings.TrimSpace(s), 64); err != nil || q < 0 || q > 1 {
					continue
				}
			}
			switch {
			case mt == "application/xml", mt == "text/xml", mt == "text/*":
				xmlQ = max(xmlQ, q)
			case mt == "application/json", mt == "*/*", mt == "application/*",
				strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"):
				jsonQ = max(jsonQ, q)
			}
		}
	}
	return xmlQ > 0 && xmlQ > jsonQ
}

// Writer holds back a successful JSON answer and writes it as XML at
// Finish; other answers (errors, raw bodies) pass through. Not safe for
// concurrent use.
type Writer struct {
	http.ResponseWriter
	rt     *Route
	status int    // the held answer's status; 0: none held
	wrote  bool   // the header went out
	body   []byte // the held JSON
}

// WriteHeader holds a 2xx JSON answer back; it passes others through.
func (x *Writer) WriteHeader(code int) {
	if x.wrote || x.status != 0 {
		return
	}
	h := x.Header()
	ct, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
	switch {
	case code == http.StatusNotModified && ct == "application/json":
		h.Set("Content-Type", XMLContentType)
	case code >= 200 && code < 300 && code != http.StatusNoContent && ct == "application/json":
		x.status = code
		return
	}
	x.wrote = true
	x.ResponseWriter.WriteHeader(code)
}

// Write keeps a held answer's bytes; it writes the others.
func (x *Writer) Write(p []byte) (int, error) {
	if !x.wrote && x.status == 0 {
		x.WriteHeader(http.StatusOK)
	}
	if x.status != 0 {
		x.body = append(x.body, p...)
		return len(p), nil
	}
	return x.ResponseWriter.Write(p)
}

// Unwrap gives http.ResponseController the writer underneath.
func (x *Writer) Unwrap() http.ResponseWriter { return x.ResponseWriter }

// Finish writes the held answer as XML, or a 502 google.rpc.Status when it
// cannot be rendered. w not a Writer: nothing to do.
func Finish(w http.ResponseWriter) {
	x, ok := w.(*Writer)
	if !ok || x.status == 0 {
		return
	}
	out, err := x.rt.encodeXML(x.body)
	h := x.Header()
	if err != nil {
		h.Del("Content-Length")
		h.Del("Etag")
		rpcstatus.WriteStatus(x.ResponseWriter, http.StatusBadGateway, codes.Internal,
			"the upstream's answer has no XML form: "+err.Error()+"; ask for application/json")
		return
	}
	h.Set("Content-Type", XMLContentType)
	h.Set("Content-Length", strconv.Itoa(len(out)))
	x.ResponseWriter.WriteHeader(x.status)
	_, _ = x.ResponseWriter.Write(out)
}
