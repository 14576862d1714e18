package library

import (
	"fmt"
	"html"
)

// Cover limits, as documented on UploadBookCover.
const (
	maxCoverBytes    = 1 << 20
	defaultCoverType = "image/svg+xml"
)

// defaultCover draws the placeholder cover every book starts with: the title and
// author on a plain background. It is deterministic so tests can compare bytes.
func defaultCover(title, author string) []byte {
	return fmt.Appendf(nil, `<svg xmlns="http://www.w3.org/2000/svg" width="200" height="300" viewBox="0 0 200 300">`+
		`<rect width="200" height="300" fill="#2f3e46"/>`+
		`<text x="100" y="140" fill="#f8f9fa" font-family="serif" font-size="14" text-anchor="middle">%s</text>`+
		`<text x="100" y="170" fill="#cad2c5" font-family="serif" font-size="11" text-anchor="middle">%s</text>`+
		`</svg>`, html.EscapeString(title), html.EscapeString(author))
}
