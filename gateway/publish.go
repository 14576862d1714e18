package gateway

// HiddenMethod is a reflected method that gets no route, and the rule that
// hid it, for the admin API.
type HiddenMethod struct {
	Method string `json:"method"`
	Rule   string `json:"rule"` // "hide: *.Admin*" or "not in expose"
}
