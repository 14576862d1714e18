package admin

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/refract-gateway/refract/gateway"
	"github.com/refract-gateway/refract/reflection"
	"github.com/refract-gateway/refract/transcode/rpcstatus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// maxApproveBody bounds the body of an approval: {"hash":"<64 hex>"}.
const maxApproveBody = 1 << 10

// mountDescriptors adds the schema operations of each upstream to the
// admin mux: its schema history, the diff between two versions, a
// download of any version as a binary FileDescriptorSet (for grpcurl
// -protoset and buf), and the approval of a held breaking schema.
func mountDescriptors(mux *endpointMux, g *gateway.Gateway) {
	mux.HandleFunc("GET /admin/descriptors/{upstream}/history", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("upstream")
		versions, err := g.Cache().History(name)
		if err != nil {
			writeSchemaError(w, err)
			return
		}
		resp := map[string]any{"upstream": name, "versions": versions}
		for _, s := range g.Cache().Stats() {
			if s.Upstream == name && s.Held != nil {
				resp["held"] = s.Held
			}
		}
		WriteJSON(w, http.StatusOK, resp)
	})
	mux.HandleFunc("GET /admin/descriptors/{upstream}/diff", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		d, err := g.Cache().Diff(r.PathValue("upstream"), q.Get("from"), q.Get("to"))
		if err != nil {
			writeSchemaError(w, err)
			return
		}
		WriteJSON(w, http.StatusOK, d)
	})
	mux.HandleFunc("GET /admin/descriptors/{upstream}/versions/{file}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("upstream")
		hash, ok := strings.CutSuffix(r.PathValue("file"), ".binpb")
		if !ok {
			rpcstatus.WriteStatus(w, http.StatusNotFound, codes.NotFound,
				"versions are downloaded as /admin/descriptors/"+name+"/versions/<hash>.binpb")
			return
		}
		snap, err := g.Cache().Version(name, hash)
		if err != nil {
			writeSchemaError(w, err)
			return
		}
		data, err := proto.MarshalOptions{Deterministic: true}.Marshal(snap.DescriptorSet())
		if err != nil {
			writeAdminError(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/x-protobuf; messageType=google.protobuf.FileDescriptorSet")
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+"-"+snap.Hash[:12]+`.binpb"`)
		w.Header().Set("X-Refract-Schema-Hash", snap.Hash)
		_, _ = w.Write(data)
	})
	mux.HandleFunc("POST /admin/descriptors/{upstream}/approve", func(w http.ResponseWriter, r *http.Request) {
		// The hash, when given (body {"hash": …} or ?hash=), must be the
		// held schema's: an approval read off the console for one schema
		// never adopts another that arrived since.
		hash := r.URL.Query().Get("hash")
		body, err := io.ReadAll(io.LimitReader(r.Body, maxApproveBody+1))
		if err != nil || len(body) > maxApproveBody {
			rpcstatus.WriteStatus(w, http.StatusBadRequest, codes.InvalidArgument, `the body must be empty or {"hash":"<the held schema's hash>"}`)
			return
		}
		if len(strings.TrimSpace(string(body))) > 0 {
			var req struct {
				Hash string `json:"hash"`
			}
			if err := json.Unmarshal(body, &req); err != nil {
				rpcstatus.WriteStatus(w, http.StatusBadRequest, codes.InvalidArgument, `the body must be empty or {"hash":"<the held schema's hash>"}: `+err.Error())
				return
			}
			hash = req.Hash
		}
		held, err := g.Cache().Approve(r.PathValue("upstream"), hash)
		if err != nil {
			writeSchemaError(w, err)
			return
		}
		WriteJSON(w, http.StatusOK, map[string]any{"adopted": held.Hash, "held_since": held.Since, "changes": held.Changes})
	})
}

// writeSchemaError answers a failed schema operation with its
// google.rpc.Status: 404 for an unknown upstream or version, 409 when
// nothing (or another schema) is held, 400 for a malformed hash.
func writeSchemaError(w http.ResponseWriter, err error) {
	st := status.Convert(err)
	httpStatus := rpcstatus.HTTPStatus(st.Code())
	if errors.Is(err, reflection.ErrNothingHeld) {
		httpStatus = http.StatusConflict
	}
	rpcstatus.WriteProto(w, httpStatus, st.Proto())
}
