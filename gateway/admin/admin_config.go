package admin

import (
	"fmt"
	"net/url"
	"reflect"
	"strings"

	"github.com/refract-gateway/refract/gateway/config"
	"go.yaml.in/yaml/v3"
)

// redacted replaces every secret in GET /admin/config.
const redacted = "[redacted]"

// EffectiveConfig is cfg (the configuration being served, defaults
// applied) as JSON-ready values keyed like the YAML file, with every
// secret replaced by "[redacted]": inline secret values and API-key digests (where a
// secret is read from env or file, the variable or path is shown, never
// the content), keys named like a token, password or secret, and the
// credentials or query of any URL. Safe for concurrent use.
func EffectiveConfig(cfg *config.Config) (map[string]any, error) {
	// A deep copy through YAML, so redaction never touches the live config.
	raw, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("admin: effective config: %w", err)
	}
	var cp config.Config
	if err := yaml.Unmarshal(raw, &cp); err != nil {
		return nil, fmt.Errorf("admin: effective config: %w", err)
	}
	fillDefaults(&cp)
	redact(reflect.ValueOf(&cp).Elem(), "")
	if raw, err = yaml.Marshal(&cp); err != nil {
		return nil, fmt.Errorf("admin: effective config: %w", err)
	}
	var out map[string]any
	if err := yaml.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("admin: effective config: %w", err)
	}
	return out, nil
}

// fillDefaults writes into c the defaults that are applied where a key is
// read rather than when the config is parsed (the limits), so that the
// effective config shows the values in force instead of zeros.
func fillDefaults(c *config.Config) {
	l := &c.Limits
	l.MaxURLBytes, l.MaxHeaderBytes, l.MaxJSONDepth = l.URLBytes(), l.HeaderBytes(), l.JSONDepth()
	l.MaxResponseBytes, l.MaxConcurrentPerClient = l.ResponseBytes(), l.PerClient()
	l.HTTP2MaxConcurrentStreams, l.BodyReadTimeout, l.MinBodyRate = l.HTTP2Streams(), config.Duration(l.BodyTimeout()), l.BodyRate()
	l.HeadersWithUnderscores = l.Underscores()
}

// redact walks v, which has the YAML key name, replacing secrets in place.
func redact(v reflect.Value, name string) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			redact(v.Elem(), name)
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[config.SecretConfig]() {
			// value is the secret; sha256 is a digest of an API key,
			// enough to test guesses offline. env and file only say where.
			for _, f := range []string{"Value", "SHA256"} {
				if fv := v.FieldByName(f); fv.String() != "" {
					fv.SetString(redacted)
				}
			}
			return
		}
		if v.Type() == reflect.TypeFor[config.TracingConfig]() {
			// Export headers carry the collector's credentials whatever
			// the header is called.
			hv := v.FieldByName("Headers")
			for _, k := range hv.MapKeys() {
				hv.SetMapIndex(k, reflect.ValueOf(redacted))
			}
		}
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			if !t.Field(i).IsExported() {
				continue
			}
			key, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
			redact(v.Field(i), key)
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			redact(v.Index(i), name)
		}
	case reflect.Map:
		if v.Type().Elem().Kind() != reflect.String {
			return
		}
		for _, k := range v.MapKeys() {
			if s, ok := redactString(k.String(), v.MapIndex(k).String()); ok {
				v.SetMapIndex(k, reflect.ValueOf(s).Convert(v.Type().Elem()))
			}
		}
	case reflect.String:
		if s, ok := redactString(name, v.String()); ok && v.CanSet() {
			v.SetString(s)
		}
	}
}

// redactString is what a string under key shows: redacted when the key
// names a secret, a URL without credentials or query, or unchanged (ok
// false).
func redactString(key, s string) (string, bool) {
	if s == "" {
		return s, false
	}
	k := strings.ToLower(key)
	// A key is secret when its name says so: Consul's token, Redis's
	// password, and any such key added later, with no list to keep in step.
	for _, w := range []string{"token", "password", "secret", "credential", "api_key"} {
		if strings.Contains(k, w) {
			return redacted, true
		}
	}
	if !strings.Contains(s, "://") {
		return s, false
	}
	u, err := url.Parse(s)
	if err != nil {
		return redacted, true // unparseable: it may hold anything
	}
	changed := false
	if u.User != nil {
		u.User, changed = url.User(redacted), true
	}
	if u.RawQuery != "" {
		u.RawQuery, changed = redacted, true
	}
	if !changed {
		return s, false
	}
	return u.String(), true
}
