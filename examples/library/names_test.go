package library

import (
	"strings"
	"testing"
)

func TestValidID(t *testing.T) {
	for id, want := range map[string]bool{
		"1": true, "sci-fi": true, "a1-b2": true, strings.Repeat("a", 63): true,
		"": false, "-a": false, "A": false, "a_b": false, "a/b": false, "a b": false,
		"é": false, strings.Repeat("a", 64): false,
	} {
		if got := validID(id); got != want {
			t.Errorf("validID(%q) = %v, want %v", id, got, want)
		}
	}
}

func TestParseNames(t *testing.T) {
	if s, ok := parseShelfName("shelves/1"); !ok || s != "1" {
		t.Errorf("parseShelfName(shelves/1) = %q, %v", s, ok)
	}
	for _, bad := range []string{"", "shelves/", "shelves/1/", "shelf/1", "shelves/1/books/2", "/shelves/1"} {
		if _, ok := parseShelfName(bad); ok {
			t.Errorf("parseShelfName(%q) accepted", bad)
		}
	}
	if s, b, ok := parseBookName("shelves/1/books/x-2"); !ok || s != "1" || b != "x-2" {
		t.Errorf("parseBookName = %q, %q, %v", s, b, ok)
	}
	for _, bad := range []string{"shelves/1/books", "shelves/1/books/", "shelves/1/book/2", "shelves//books/2", "shelves/1/books/2/x"} {
		if _, _, ok := parseBookName(bad); ok {
			t.Errorf("parseBookName(%q) accepted", bad)
		}
	}
	if a, b, ok := parseAuthorBookName("authors/Mary Beard/books/3"); !ok || a != "Mary Beard" || b != "3" {
		t.Errorf("parseAuthorBookName = %q, %q, %v", a, b, ok)
	}
	if _, _, ok := parseAuthorBookName("authors//books/3"); ok {
		t.Error("parseAuthorBookName accepted an empty author")
	}
}

func TestSlug(t *testing.T) {
	for in, want := range map[string]string{
		"Ursula K. Le Guin":      "ursula-k-le-guin",
		"ursula-k-le-guin":       "ursula-k-le-guin",
		"  Mary   Beard  ":       "mary-beard",
		"Gabriel García Márquez": "gabriel-garcía-márquez",
		"---":                    "",
	} {
		if got := slug(in); got != want {
			t.Errorf("slug(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPageToken(t *testing.T) {
	var v violations
	if seq := decodePageToken(encodePageToken(42), &v); seq != 42 || len(v) != 0 {
		t.Fatalf("round trip = %d, %v", seq, v)
	}
	for _, bad := range []string{"42", encodePageToken(0), "djE6YWZ0ZXI9LTE", "!!"} {
		var v violations
		decodePageToken(bad, &v)
		if len(v) != 1 || v[0].GetField() != "page_token" {
			t.Errorf("decodePageToken(%q) violations = %v", bad, v)
		}
	}
	for req, want := range map[int32]int{0: 50, 1: 1, 100: 100, 1000: 100} {
		var v violations
		if got := pageSize(req, &v); got != want || len(v) != 0 {
			t.Errorf("pageSize(%d) = %d, %v", req, got, v)
		}
	}
}
