package policy

import (
	"net/http"

	"github.com/refract-gateway/refract/policy/resilience"
)

// SplitRequest adapts r to what a resilience.Split reads of it: header
// values and cookie values. The result reads r each time it is asked and
// is valid as long as r is.
func SplitRequest(r *http.Request) resilience.Request { return splitRequest{r} }

type splitRequest struct{ r *http.Request }

func (s splitRequest) Header(name string) string { return s.r.Header.Get(name) }

func (s splitRequest) Cookie(name string) (string, bool) {
	c, err := s.r.Cookie(name)
	if err != nil {
		return "", false
	}
	return c.Value, true
}
