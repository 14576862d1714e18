package setup

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"reflect"

	"github.com/refract-gateway/refract/gateway/config"
)

// Updatable reports whether a gateway built from old can take cur through
// gateway.Gateway.Update, keeping what did not change: the two differ
// only in their upstreams, their policy keys (products aside), and what a
// server applies itself (listeners, TLS, the admin listener, reload and
// drain keys). Any other difference (log, reflection, limits, consul,
// products, openapi, tracing) needs a gateway built anew.
func Updatable(old, cur *config.Config) bool {
	return reflect.DeepEqual(engineKeys(old), engineKeys(cur))
}

// engineKeys is cfg without the keys Update applies or the server does.
func engineKeys(cfg *config.Config) config.Config {
	c := *cfg
	c.Upstreams = nil
	c.PolicyKeys = config.PolicyKeys{Products: c.Products}
	c.Listen, c.TLS, c.Admin, c.AdminSecurity = "", nil, "", config.AdminSecurityConfig{}
	c.ShutdownTimeout, c.LifecycleKeys = 0, config.LifecycleKeys{}
	return c
}

// upstreamKey is what defines an upstream's connections and routes
// (gateway.UpstreamOptions.Key): its keys but its policies (applied by
// every route build), and the contents of its TLS files, so that a reload
// after a certificate rotation dials it again.
func upstreamKey(uc config.Upstream) string {
	uc.Policies, uc.Routes = config.Policies{}, nil
	h := sha256.New()
	_ = json.NewEncoder(h).Encode(uc) // config is plain data: it always encodes
	if t := uc.TLS; t != nil {
		for _, f := range []string{t.CA, t.Cert, t.Key} {
			if f != "" {
				b, err := os.ReadFile(f)
				if err != nil {
					b = []byte(err.Error()) // dialing will say what is wrong
				}
				h.Write(b)
				h.Write([]byte{0})
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}
