package admin_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/refract-gateway/refract/gateway/admin"
	"github.com/refract-gateway/refract/gateway/config"
)

// EffectiveConfig redacts a copy: secrets by type, by key name and in
// URLs, and leaves the config it was given as it was.
func TestEffectiveConfigRedacts(t *testing.T) {
	cfg, err := config.Parse([]byte(`
consul: {address: 127.0.0.1:1, token: consul-token-s3cr3t}
redis: {addr: 127.0.0.1:1, password: {value: redis-s3cr3t}}
ext_authz:
  http: {url: "http://user:authz-s3cr3t@127.0.0.1:1/check?key=q-s3cr3t"}
upstreams: [{name: library, static: ["127.0.0.1:1"]}]
`))
	if err != nil {
		t.Fatal(err)
	}
	out, err := admin.EffectiveConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(out)
	if strings.Contains(string(b), "s3cr3t") {
		t.Errorf("a secret shows: %s", b)
	}
	if !strings.Contains(string(b), `"upstreams":[{`) {
		t.Errorf("the config is not all there: %s", b)
	}
	if cfg.Consul.Token != "consul-token-s3cr3t" || cfg.Redis.Password.Value != "redis-s3cr3t" {
		t.Error("redaction changed the config it was given")
	}
}
