package transcode

import (
	"github.com/refract-gateway/refract/transcode/rpcstatus"
	spb "google.golang.org/genproto/googleapis/rpc/status"
)

// EncodeError renders st as rpcstatus.Encode does (EncodeUnpopulated with
// Options.UnpopulatedDetails), resolving details with the binding's resolver (the upstream's types); a nil binding resolves
// through the linked-in registry only. Safe for concurrent use.
func (b *Binding) EncodeError(st *spb.Status) []byte {
	switch {
	case b == nil:
		return rpcstatus.Encode(st, nil)
	case b.unpopulatedDetails:
		return rpcstatus.EncodeUnpopulated(st, b.resolver)
	}
	return rpcstatus.Encode(st, b.resolver)
}
