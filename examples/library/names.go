package library

import (
	"strings"
	"unicode"
)

// maxIDLen is the longest shelf or book ID accepted.
const maxIDLen = 63

// validID reports whether id is a legal shelf or book ID: 1 to 63 characters of
// lower-case ASCII letters, digits and '-', not starting with '-'. The rule keeps IDs
// safe to put in a URL path segment without escaping.
func validID(id string) bool {
	if id == "" || len(id) > maxIDLen || id[0] == '-' {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// shelfName formats the resource name of the shelf with this ID.
func shelfName(shelfID string) string { return "shelves/" + shelfID }

// bookName formats the canonical resource name of a book.
func bookName(shelfID, bookID string) string { return "shelves/" + shelfID + "/books/" + bookID }

// parseShelfName splits "shelves/{shelf}" and reports whether name has that form
// with a valid ID.
func parseShelfName(name string) (shelfID string, ok bool) {
	id, found := strings.CutPrefix(name, "shelves/")
	if !found || !validID(id) {
		return "", false
	}
	return id, true
}

// parseBookName splits "shelves/{shelf}/books/{book}" and reports whether name has
// that form with valid IDs.
func parseBookName(name string) (shelfID, bookID string, ok bool) {
	parts := strings.Split(name, "/")
	if len(parts) != 4 || parts[0] != "shelves" || parts[2] != "books" ||
		!validID(parts[1]) || !validID(parts[3]) {
		return "", "", false
	}
	return parts[1], parts[3], true
}

// parseAuthorBookName splits the alias "authors/{author}/books/{book}". The author
// segment is free text (any non-empty segment) because it is compared by slug.
func parseAuthorBookName(name string) (author, bookID string, ok bool) {
	parts := strings.Split(name, "/")
	if len(parts) != 4 || parts[0] != "authors" || parts[2] != "books" ||
		parts[1] == "" || !validID(parts[3]) {
		return "", "", false
	}
	return parts[1], parts[3], true
}

// slug folds an author's name to the form used in author paths: lower case, each run
// of characters other than letters and digits replaced by one '-', none at the ends.
// "Ursula K. Le Guin" and "ursula-k-le-guin" have the same slug, so either works in a
// URL.
func slug(s string) string {
	var b strings.Builder
	pendingDash := false
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if pendingDash && b.Len() > 0 {
				b.WriteByte('-')
			}
			pendingDash = false
			b.WriteRune(unicode.ToLower(r))
			continue
		}
		pendingDash = true
	}
	return b.String()
}
