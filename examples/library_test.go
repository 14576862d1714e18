package examples

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/refract-gateway/refract/examples/library/librarypb"
)

func libraryClient(t *testing.T) librarypb.LibraryServiceClient {
	t.Helper()
	_, conn := startBackend(t, StartLibrary)
	return librarypb.NewLibraryServiceClient(conn)
}

// seedBook1 is shelves/1/books/1 as the seed data documents it.
func seedBook1() *librarypb.Book {
	return &librarypb.Book{
		Name:         "shelves/1/books/1",
		Title:        "The Left Hand of Darkness",
		Author:       "Ursula K. Le Guin",
		Genre:        librarypb.Genre_FICTION,
		PageCount:    304,
		PublishTime:  timestamppb.New(time.Date(1969, 3, 1, 0, 0, 0, 0, time.UTC)),
		ReadTime:     durationpb.New(9*time.Hour + 30*time.Minute),
		Tags:         []string{"classic", "science-fiction", "hainish"},
		Labels:       map[string]string{"language": "en", "series": "Hainish Cycle"},
		Rating:       wrapperspb.Double(4.5),
		Checksum:     []byte{0xde, 0xad, 0xbe, 0xef},
		Availability: &librarypb.Book_InStock{InStock: true},
	}
}

func names[T interface{ GetName() string }](items []T) string {
	var ns []string
	for _, it := range items {
		ns = append(ns, it.GetName())
	}
	return strings.Join(ns, ",")
}

func TestLibrarySeed(t *testing.T) {
	c := libraryClient(t)
	ctx := t.Context()

	shelves, err := c.ListShelves(ctx, &librarypb.ListShelvesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	created := timestamppb.New(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
	equal(t, "ListShelves", shelves, &librarypb.ListShelvesResponse{Shelves: []*librarypb.Shelf{
		{Name: "shelves/1", Theme: "Fiction", BookCount: 2, CreateTime: created},
		{Name: "shelves/2", Theme: "History", BookCount: 1, CreateTime: created},
	}})

	book, err := c.GetBook(ctx, &librarypb.GetBookRequest{Name: "shelves/1/books/1"})
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "GetBook shelves/1/books/1", book, seedBook1())

	books, err := c.ListBooks(ctx, &librarypb.ListBooksRequest{Parent: "shelves/2"})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(books.GetBooks()); got != "shelves/2/books/3" {
		t.Fatalf("books on shelves/2 = %s", got)
	}
	if b := books.GetBooks()[0]; b.GetTitle() != "SPQR: A History of Ancient Rome" || b.GetRating() != nil ||
		b.GetAvailability() == nil || b.GetInStock() {
		t.Fatalf("shelves/2/books/3 = %v", b)
	}

	title, err := c.GetBookTitle(ctx, &librarypb.GetBookTitleRequest{Name: "shelves/2/books/3"})
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "GetBookTitle", title, &librarypb.BookTitle{Title: "SPQR", Subtitle: "A History of Ancient Rome"})
}

func TestLibraryCRUD(t *testing.T) {
	c := libraryClient(t)
	ctx := t.Context()

	before := time.Now().Add(-time.Second)
	shelf, err := c.CreateShelf(ctx, &librarypb.CreateShelfRequest{Shelf: &librarypb.Shelf{Theme: "Poetry"}})
	if err != nil {
		t.Fatal(err)
	}
	if shelf.GetName() != "shelves/3" || shelf.GetTheme() != "Poetry" || shelf.GetBookCount() != 0 {
		t.Fatalf("CreateShelf = %v", shelf)
	}
	if ct := shelf.GetCreateTime().AsTime(); ct.Before(before) || ct.After(time.Now().Add(time.Second)) {
		t.Fatalf("create_time %v is not about now", ct)
	}
	named, err := c.CreateShelf(ctx, &librarypb.CreateShelfRequest{Shelf: &librarypb.Shelf{Name: "shelves/sci-fi", Theme: "SF"}})
	if err != nil || named.GetName() != "shelves/sci-fi" {
		t.Fatalf("CreateShelf with name = %v, %v", named, err)
	}

	odyssey, err := c.CreateBook(ctx, &librarypb.CreateBookRequest{
		Parent: "shelves/3",
		BookId: "odyssey",
		Book: &librarypb.Book{
			Name:   "ignored/because/output/only",
			Title:  "The Odyssey",
			Author: "Homer",
			Genre:  librarypb.Genre_POETRY,
			Locked: true, // output only: ignored
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "CreateBook", odyssey, &librarypb.Book{
		Name: "shelves/3/books/odyssey", Title: "The Odyssey", Author: "Homer", Genre: librarypb.Genre_POETRY,
	})
	auto, err := c.CreateBook(ctx, &librarypb.CreateBookRequest{Parent: "shelves/3", Book: &librarypb.Book{Title: "Beowulf"}})
	if err != nil {
		t.Fatal(err)
	}
	if auto.GetName() != "shelves/3/books/4" {
		t.Fatalf("server-assigned name = %q, want shelves/3/books/4 (seed uses 1-3)", auto.GetName())
	}

	got, err := c.GetShelf(ctx, &librarypb.GetShelfRequest{Name: "shelves/3"})
	if err != nil || got.GetBookCount() != 2 {
		t.Fatalf("GetShelf = %v, %v; want book_count 2", got, err)
	}
	list, err := c.ListBooks(ctx, &librarypb.ListBooksRequest{Parent: "shelves/3"})
	if err != nil {
		t.Fatal(err)
	}
	if n := names(list.GetBooks()); n != "shelves/3/books/odyssey,shelves/3/books/4" {
		t.Fatalf("ListBooks = %s", n)
	}

	if _, err := c.DeleteBook(ctx, &librarypb.DeleteBookRequest{Name: "shelves/3/books/4"}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetBook(ctx, &librarypb.GetBookRequest{Name: "shelves/3/books/4"})
	wantCode(t, err, codes.NotFound)

	// Deleting a shelf takes its books with it.
	if _, err := c.DeleteShelf(ctx, &librarypb.DeleteShelfRequest{Name: "shelves/3"}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetShelf(ctx, &librarypb.GetShelfRequest{Name: "shelves/3"})
	wantCode(t, err, codes.NotFound)
	_, err = c.GetBook(ctx, &librarypb.GetBookRequest{Name: "shelves/3/books/odyssey"})
	wantCode(t, err, codes.NotFound)

	// IDs are not reused: the next shelf is not shelves/3 again.
	next, err := c.CreateShelf(ctx, &librarypb.CreateShelfRequest{Shelf: &librarypb.Shelf{Theme: "Drama"}})
	if err != nil || next.GetName() != "shelves/4" {
		t.Fatalf("CreateShelf after delete = %v, %v; want shelves/4", next, err)
	}
}

func TestLibraryErrors(t *testing.T) {
	c := libraryClient(t)
	ctx := t.Context()

	type violation struct{ field, contains string }
	invalid := []struct {
		name string
		call func() error
		want []violation
	}{
		{"GetShelf malformed", func() error {
			_, err := c.GetShelf(ctx, &librarypb.GetShelfRequest{Name: "shelves/1/books/1"})
			return err
		}, []violation{{"name", "shelves/{shelf}"}}},
		{"GetShelf bad ID", func() error {
			_, err := c.GetShelf(ctx, &librarypb.GetShelfRequest{Name: "shelves/UPPER"})
			return err
		}, []violation{{"name", "shelves/{shelf}"}}},
		{"GetBook malformed", func() error {
			_, err := c.GetBook(ctx, &librarypb.GetBookRequest{Name: "shelves/1/books/"})
			return err
		}, []violation{{"name", "shelves/{shelf}/books/{book}"}}},
		{"CreateShelf without theme", func() error {
			_, err := c.CreateShelf(ctx, &librarypb.CreateShelfRequest{Shelf: &librarypb.Shelf{Name: "shelves/x y"}})
			return err
		}, []violation{{"shelf.theme", "required"}, {"shelf.name", "shelves/{shelf}"}}},
		{"CreateShelf without shelf", func() error {
			_, err := c.CreateShelf(ctx, &librarypb.CreateShelfRequest{})
			return err
		}, []violation{{"shelf", "required"}}},
		{"CreateBook without title", func() error {
			_, err := c.CreateBook(ctx, &librarypb.CreateBookRequest{Parent: "shelves/1", Book: &librarypb.Book{Author: "Anon"}})
			return err
		}, []violation{{"book.title", "required"}}},
		{"CreateBook many faults", func() error {
			_, err := c.CreateBook(ctx, &librarypb.CreateBookRequest{
				Parent: "shelf/1",
				BookId: "-bad",
				Book:   &librarypb.Book{PageCount: -1, Rating: wrapperspb.Double(7)},
			})
			return err
		}, []violation{{"parent", "shelves/{shelf}"}, {"book.title", "required"}, {"book.page_count", "negative"},
			{"book.rating", "between 0 and 5"}, {"book_id", "not starting with '-'"}}},
		{"ListShelves bad page", func() error {
			_, err := c.ListShelves(ctx, &librarypb.ListShelvesRequest{PageSize: -1, PageToken: "garbage"})
			return err
		}, []violation{{"page_size", "negative"}, {"page_token", "not a page token"}}},
		{"MergeShelves into itself", func() error {
			_, err := c.MergeShelves(ctx, &librarypb.MergeShelvesRequest{Name: "shelves/1", OtherShelfName: "shelves/1"})
			return err
		}, []violation{{"other_shelf_name", "other than"}}},
		{"UploadBookCover not an image", func() error {
			_, err := c.UploadBookCover(ctx, &librarypb.UploadBookCoverRequest{
				Name: "shelves/1/books/1", Cover: &httpbody.HttpBody{ContentType: "text/plain"}})
			return err
		}, []violation{{"cover.content_type", "image/"}, {"cover.data", "empty"}}},
		{"GetBook by malformed author path", func() error {
			_, err := c.GetBook(ctx, &librarypb.GetBookRequest{Name: "authors/x"})
			return err
		}, []violation{{"name", "authors/{author}/books/{book}"}}},
	}
	for _, tc := range invalid {
		t.Run(tc.name, func(t *testing.T) {
			st := wantCode(t, tc.call(), codes.InvalidArgument)
			br := detail[*errdetails.BadRequest](t, st)
			if len(br.GetFieldViolations()) != len(tc.want) {
				t.Fatalf("violations = %v, want %d", br.GetFieldViolations(), len(tc.want))
			}
			for i, w := range tc.want {
				v := br.GetFieldViolations()[i]
				if v.GetField() != w.field || !strings.Contains(v.GetDescription(), w.contains) {
					t.Errorf("violation %d = %s: %q, want %s: ...%q...", i, v.GetField(), v.GetDescription(), w.field, w.contains)
				}
			}
			if !strings.Contains(st.Message(), tc.want[0].field) {
				t.Errorf("message %q does not name the first bad field %q", st.Message(), tc.want[0].field)
			}
		})
	}

	notFound := []struct {
		name, resourceType, resourceName string
		call                             func() error
	}{
		{"GetShelf", "library.v1.Shelf", "shelves/99", func() error {
			_, err := c.GetShelf(ctx, &librarypb.GetShelfRequest{Name: "shelves/99"})
			return err
		}},
		{"GetBook", "library.v1.Book", "shelves/1/books/99", func() error {
			_, err := c.GetBook(ctx, &librarypb.GetBookRequest{Name: "shelves/1/books/99"})
			return err
		}},
		{"GetBook on the wrong shelf", "library.v1.Book", "shelves/2/books/1", func() error {
			_, err := c.GetBook(ctx, &librarypb.GetBookRequest{Name: "shelves/2/books/1"})
			return err
		}},
		{"GetBook by the wrong author", "library.v1.Book", "authors/mary-beard/books/1", func() error {
			_, err := c.GetBook(ctx, &librarypb.GetBookRequest{Name: "authors/mary-beard/books/1"})
			return err
		}},
		{"CreateBook on a missing shelf", "library.v1.Shelf", "shelves/99", func() error {
			_, err := c.CreateBook(ctx, &librarypb.CreateBookRequest{Parent: "shelves/99", Book: &librarypb.Book{Title: "T"}})
			return err
		}},
		{"MoveBook to a missing shelf", "library.v1.Shelf", "shelves/99", func() error {
			_, err := c.MoveBook(ctx, &librarypb.MoveBookRequest{Name: "shelves/1/books/1", OtherShelfName: "shelves/99"})
			return err
		}},
		{"GetBookCover", "library.v1.Book", "shelves/1/books/42", func() error {
			_, err := c.GetBookCover(ctx, &librarypb.GetBookCoverRequest{Name: "shelves/1/books/42"})
			return err
		}},
	}
	for _, tc := range notFound {
		t.Run(tc.name, func(t *testing.T) {
			st := wantCode(t, tc.call(), codes.NotFound)
			ri := detail[*errdetails.ResourceInfo](t, st)
			if ri.GetResourceType() != tc.resourceType || ri.GetResourceName() != tc.resourceName {
				t.Fatalf("ResourceInfo = %v, want %s %s", ri, tc.resourceType, tc.resourceName)
			}
		})
	}

	t.Run("CreateShelf existing", func(t *testing.T) {
		_, err := c.CreateShelf(ctx, &librarypb.CreateShelfRequest{Shelf: &librarypb.Shelf{Name: "shelves/1", Theme: "Again"}})
		ri := detail[*errdetails.ResourceInfo](t, wantCode(t, err, codes.AlreadyExists))
		if ri.GetResourceName() != "shelves/1" || ri.GetResourceType() != "library.v1.Shelf" {
			t.Fatalf("ResourceInfo = %v", ri)
		}
	})
	t.Run("CreateBook with an ID used on another shelf", func(t *testing.T) {
		_, err := c.CreateBook(ctx, &librarypb.CreateBookRequest{Parent: "shelves/2", BookId: "1", Book: &librarypb.Book{Title: "T"}})
		ri := detail[*errdetails.ResourceInfo](t, wantCode(t, err, codes.AlreadyExists))
		if ri.GetResourceName() != "shelves/1/books/1" {
			t.Fatalf("ResourceInfo = %v, want the existing book's name", ri)
		}
	})
}

func TestLibraryUpdateMask(t *testing.T) {
	c := libraryClient(t)
	ctx := t.Context()
	update := func(b *librarypb.Book, paths ...string) (*librarypb.Book, error) {
		var mask *fieldmaskpb.FieldMask
		if paths != nil {
			mask = &fieldmaskpb.FieldMask{Paths: paths}
		}
		return c.UpdateBook(ctx, &librarypb.UpdateBookRequest{Book: b, UpdateMask: mask})
	}

	// Only masked fields change; page_count in the request is not in the mask.
	got, err := update(&librarypb.Book{Name: "shelves/1/books/1", Title: "The Left Hand", PageCount: 1}, "title")
	if err != nil {
		t.Fatal(err)
	}
	want := seedBook1()
	want.Title = "The Left Hand"
	equal(t, "masked update", got, want)

	// A masked field unset in the request is cleared; a wrapper clears to "not rated".
	got, err = update(&librarypb.Book{Name: "shelves/1/books/1"}, "rating", "labels")
	if err != nil {
		t.Fatal(err)
	}
	want.Rating, want.Labels = nil, nil
	equal(t, "clearing update", got, want)

	// Setting one oneof member replaces the other.
	got, err = update(&librarypb.Book{Name: "shelves/1/books/2", Availability: &librarypb.Book_InStock{InStock: true}}, "in_stock")
	if err != nil {
		t.Fatal(err)
	}
	if got.GetDueBack() != nil || got.GetAvailability() == nil || !got.GetInStock() {
		t.Fatalf("availability after in_stock update = %v", got.GetAvailability())
	}

	// An empty mask replaces every updatable field; "*" does the same.
	for _, paths := range [][]string{nil, {"*"}} {
		repl := &librarypb.Book{Name: "shelves/1/books/1", Title: "Replaced", Tags: []string{"new"}}
		got, err = update(repl, paths...)
		if err != nil {
			t.Fatal(err)
		}
		equal(t, fmt.Sprintf("full replacement with mask %q", paths), got, repl)
	}

	// The stored book changed, not just the response.
	stored, err := c.GetBook(ctx, &librarypb.GetBookRequest{Name: "shelves/1/books/1"})
	if err != nil || stored.GetTitle() != "Replaced" {
		t.Fatalf("GetBook after update = %v, %v", stored, err)
	}

	bad := []struct {
		name  string
		book  *librarypb.Book
		paths []string
		field string
	}{
		{"unknown path", &librarypb.Book{Name: "shelves/1/books/1"}, []string{"nope"}, "update_mask"},
		{"nested path", &librarypb.Book{Name: "shelves/1/books/1"}, []string{"labels.language"}, "update_mask"},
		{"output only", &librarypb.Book{Name: "shelves/1/books/1"}, []string{"locked"}, "update_mask"},
		{"name", &librarypb.Book{Name: "shelves/1/books/1"}, []string{"name"}, "update_mask"},
		{"JSON name", &librarypb.Book{Name: "shelves/1/books/1"}, []string{"pageCount"}, "update_mask"},
		{"result without title", &librarypb.Book{Name: "shelves/1/books/1"}, nil, "book.title"},
		{"negative pages", &librarypb.Book{Name: "shelves/1/books/1", PageCount: -5}, []string{"page_count"}, "book.page_count"},
		{"malformed name", &librarypb.Book{Name: "books/1", Title: "T"}, nil, "book.name"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := update(tc.book, tc.paths...)
			br := detail[*errdetails.BadRequest](t, wantCode(t, err, codes.InvalidArgument))
			if f := br.GetFieldViolations()[0].GetField(); f != tc.field {
				t.Fatalf("violation on %q, want %q", f, tc.field)
			}
		})
	}
	_, err = update(&librarypb.Book{Name: "shelves/2/books/1", Title: "T"})
	wantCode(t, err, codes.NotFound)
}

func TestLibraryCover(t *testing.T) {
	c := libraryClient(t)
	ctx := t.Context()

	def, err := c.GetBookCover(ctx, &librarypb.GetBookCoverRequest{Name: "shelves/1/books/1"})
	if err != nil {
		t.Fatal(err)
	}
	if def.GetContentType() != "image/svg+xml" || !bytes.HasPrefix(def.GetData(), []byte("<svg ")) ||
		!bytes.Contains(def.GetData(), []byte("The Left Hand of Darkness")) {
		t.Fatalf("default cover = %s %q", def.GetContentType(), def.GetData())
	}

	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
	if _, err := c.UploadBookCover(ctx, &librarypb.UploadBookCoverRequest{
		Name:  "shelves/1/books/1",
		Cover: &httpbody.HttpBody{ContentType: "image/png", Data: png},
	}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetBookCover(ctx, &librarypb.GetBookCoverRequest{Name: "shelves/1/books/1"})
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "cover after upload", got, &httpbody.HttpBody{ContentType: "image/png", Data: png})

	// Other books keep their own covers.
	other, err := c.GetBookCover(ctx, &librarypb.GetBookCoverRequest{Name: "shelves/2/books/3"})
	if err != nil || !bytes.Contains(other.GetData(), []byte("SPQR")) {
		t.Fatalf("cover of shelves/2/books/3 = %q, %v", other.GetData(), err)
	}

	// Too large.
	_, err = c.UploadBookCover(ctx, &librarypb.UploadBookCoverRequest{
		Name:  "shelves/1/books/1",
		Cover: &httpbody.HttpBody{ContentType: "image/png", Data: make([]byte, 1<<20+1)},
	})
	br := detail[*errdetails.BadRequest](t, wantCode(t, err, codes.InvalidArgument))
	if br.GetFieldViolations()[0].GetField() != "cover.data" {
		t.Fatalf("violations = %v", br.GetFieldViolations())
	}
}

func TestLibraryListBooksFilters(t *testing.T) {
	c := libraryClient(t)
	ctx := t.Context()
	tests := []struct {
		name string
		req  *librarypb.ListBooksRequest
		want string
	}{
		{"all", &librarypb.ListBooksRequest{}, "shelves/1/books/1,shelves/1/books/2"},
		{"genre", &librarypb.ListBooksRequest{Genre: librarypb.Genre_FICTION}, "shelves/1/books/1,shelves/1/books/2"},
		{"other genre", &librarypb.ListBooksRequest{Genre: librarypb.Genre_HISTORY}, ""},
		{"one tag", &librarypb.ListBooksRequest{Tags: []string{"classic"}}, "shelves/1/books/1,shelves/1/books/2"},
		{"all tags", &librarypb.ListBooksRequest{Tags: []string{"classic", "hainish"}}, "shelves/1/books/1"},
		{"published after", &librarypb.ListBooksRequest{
			PublishedAfter: timestamppb.New(time.Date(1968, 1, 1, 0, 0, 0, 0, time.UTC))}, "shelves/1/books/1"},
		{"published after is strict", &librarypb.ListBooksRequest{
			PublishedAfter: timestamppb.New(time.Date(1969, 3, 1, 0, 0, 0, 0, time.UTC))}, ""},
		{"min rating", &librarypb.ListBooksRequest{MinRating: wrapperspb.Double(4.3)}, "shelves/1/books/1"},
		{"min rating inclusive", &librarypb.ListBooksRequest{MinRating: wrapperspb.Double(4.2)}, "shelves/1/books/1,shelves/1/books/2"},
		{"author ignores case", &librarypb.ListBooksRequest{
			Filter: &librarypb.BookFilter{Author: "gabriel garcía márquez"}}, "shelves/1/books/2"},
		{"page size", &librarypb.ListBooksRequest{PageSize: 1}, "shelves/1/books/1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := proto.Clone(tc.req).(*librarypb.ListBooksRequest)
			req.Parent = "shelves/1"
			resp, err := c.ListBooks(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if got := names(resp.GetBooks()); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}

	_, err := c.ListBooks(ctx, &librarypb.ListBooksRequest{Parent: "shelves/99"})
	wantCode(t, err, codes.NotFound)
}

func TestLibraryPagination(t *testing.T) {
	c := libraryClient(t)
	ctx := t.Context()
	for i := range 5 {
		if _, err := c.CreateShelf(ctx, &librarypb.CreateShelfRequest{Shelf: &librarypb.Shelf{Theme: fmt.Sprint("Theme ", i)}}); err != nil {
			t.Fatal(err)
		}
	}
	var pages []string
	token := ""
	for range 10 {
		resp, err := c.ListShelves(ctx, &librarypb.ListShelvesRequest{PageSize: 3, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, names(resp.GetShelves()))
		token = resp.GetNextPageToken()
		if token == "" {
			break
		}
		if len(pages) == 1 {
			// A shelf deleted between pages does not shift the next page.
			if _, err := c.DeleteShelf(ctx, &librarypb.DeleteShelfRequest{Name: "shelves/2"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	got := strings.Join(pages, " | ")
	want := "shelves/1,shelves/2,shelves/3 | shelves/4,shelves/5,shelves/6 | shelves/7"
	if got != want {
		t.Fatalf("pages = %s\nwant    %s", got, want)
	}
}

func TestLibraryAuthorBinding(t *testing.T) {
	c := libraryClient(t)
	for _, name := range []string{
		"authors/ursula-k-le-guin/books/1",
		"authors/Ursula K. Le Guin/books/1", // what a client gets after URL-decoding "Ursula%20K.%20Le%20Guin"
	} {
		b, err := c.GetBook(t.Context(), &librarypb.GetBookRequest{Name: name})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		equal(t, name, b, seedBook1())
	}
	b, err := c.GetBook(t.Context(), &librarypb.GetBookRequest{Name: "authors/gabriel-garcía-márquez/books/2"})
	if err != nil || b.GetName() != "shelves/1/books/2" {
		t.Fatalf("non-ASCII author slug: %v, %v", b, err)
	}
}

func TestLibraryMoveMergeLock(t *testing.T) {
	c := libraryClient(t)
	ctx := t.Context()

	moved, err := c.MoveBook(ctx, &librarypb.MoveBookRequest{Name: "shelves/1/books/2", OtherShelfName: "shelves/2"})
	if err != nil {
		t.Fatal(err)
	}
	if moved.GetName() != "shelves/2/books/2" || moved.GetTitle() != "One Hundred Years of Solitude" {
		t.Fatalf("MoveBook = %v", moved)
	}
	_, err = c.GetBook(ctx, &librarypb.GetBookRequest{Name: "shelves/1/books/2"})
	wantCode(t, err, codes.NotFound)

	locked, err := c.LockBook(ctx, &librarypb.LockBookRequest{Name: "shelves/2/books/3"})
	if err != nil || !locked.GetLocked() {
		t.Fatalf("LockBook = %v, %v", locked, err)
	}
	// Locking is idempotent.
	if again, err := c.LockBook(ctx, &librarypb.LockBookRequest{Name: "shelves/2/books/3"}); err != nil || !again.GetLocked() {
		t.Fatalf("LockBook again = %v, %v", again, err)
	}
	blocked := map[string]func() error{
		"MergeShelves": func() error {
			_, err := c.MergeShelves(ctx, &librarypb.MergeShelvesRequest{Name: "shelves/1", OtherShelfName: "shelves/2"})
			return err
		},
		"DeleteShelf": func() error {
			_, err := c.DeleteShelf(ctx, &librarypb.DeleteShelfRequest{Name: "shelves/2"})
			return err
		},
		"UpdateBook": func() error {
			_, err := c.UpdateBook(ctx, &librarypb.UpdateBookRequest{Book: &librarypb.Book{Name: "shelves/2/books/3", Title: "X"}})
			return err
		},
		"DeleteBook": func() error {
			_, err := c.DeleteBook(ctx, &librarypb.DeleteBookRequest{Name: "shelves/2/books/3"})
			return err
		},
		"MoveBook": func() error {
			_, err := c.MoveBook(ctx, &librarypb.MoveBookRequest{Name: "shelves/2/books/3", OtherShelfName: "shelves/1"})
			return err
		},
		"UploadBookCover": func() error {
			_, err := c.UploadBookCover(ctx, &librarypb.UploadBookCoverRequest{Name: "shelves/2/books/3",
				Cover: &httpbody.HttpBody{ContentType: "image/png", Data: []byte{1}}})
			return err
		},
	}
	for name, call := range blocked {
		st := wantCode(t, call(), codes.FailedPrecondition)
		pf := detail[*errdetails.PreconditionFailure](t, st)
		if v := pf.GetViolations(); len(v) != 1 || v[0].GetType() != "LOCKED" || v[0].GetSubject() != "shelves/2/books/3" {
			t.Fatalf("%s: PreconditionFailure = %v", name, pf)
		}
	}

	unlocked, err := c.LockBook(ctx, &librarypb.LockBookRequest{Name: "shelves/2/books/3", Unlock: true})
	if err != nil || unlocked.GetLocked() {
		t.Fatalf("unlock = %v, %v", unlocked, err)
	}
	merged, err := c.MergeShelves(ctx, &librarypb.MergeShelvesRequest{Name: "shelves/1", OtherShelfName: "shelves/2"})
	if err != nil {
		t.Fatal(err)
	}
	if merged.GetName() != "shelves/1" || merged.GetBookCount() != 3 {
		t.Fatalf("MergeShelves = %v", merged)
	}
	_, err = c.GetShelf(ctx, &librarypb.GetShelfRequest{Name: "shelves/2"})
	wantCode(t, err, codes.NotFound)
	list, err := c.ListBooks(ctx, &librarypb.ListBooksRequest{Parent: "shelves/1"})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(list.GetBooks()); got != "shelves/1/books/1,shelves/1/books/2,shelves/1/books/3" {
		t.Fatalf("books after merge = %s", got)
	}
}

// TestLibraryConcurrent runs writers and readers at once, for the race detector.
func TestLibraryConcurrent(t *testing.T) {
	c := libraryClient(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	const workers, each = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*each*2)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				_, err := c.CreateBook(ctx, &librarypb.CreateBookRequest{
					Parent: "shelves/1",
					BookId: fmt.Sprintf("w%d-%d", w, i),
					Book:   &librarypb.Book{Title: "T"},
				})
				errs <- err
				_, err = c.ListBooks(ctx, &librarypb.ListBooksRequest{Parent: "shelves/1", PageSize: 5})
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	shelf, err := c.GetShelf(ctx, &librarypb.GetShelfRequest{Name: "shelves/1"})
	if err != nil || shelf.GetBookCount() != 2+workers*each {
		t.Fatalf("GetShelf = %v, %v; want %d books", shelf, err, 2+workers*each)
	}
}
