package library

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/refract-gateway/refract/examples/library/librarypb"
)

// Service implements librarypb.LibraryServiceServer over an in-memory store. The
// behaviour of each method is documented on the RPC in library.proto. It is safe for
// concurrent use: one mutex guards the store, held only while it is read or changed.
type Service struct {
	librarypb.UnimplementedLibraryServiceServer

	now func() time.Time // clock for create_time of new shelves

	mu          sync.Mutex
	shelves     map[string]*shelfRecord // by shelf ID
	books       map[string]*bookRecord  // by book ID, unique across shelves
	seq         int64                   // last creation sequence number handed out
	lastShelfID int64                   // last numeric shelf ID handed out
	lastBookID  int64                   // last numeric book ID handed out
}

var _ librarypb.LibraryServiceServer = (*Service)(nil)

// NewService returns a Service holding the seed data: shelves/1 ("Fiction") with
// books shelves/1/books/1 and shelves/1/books/2, and shelves/2 ("History") with
// shelves/2/books/3. Each Service has its own store.
func NewService() *Service {
	s := &Service{
		now:     time.Now,
		shelves: make(map[string]*shelfRecord),
		books:   make(map[string]*bookRecord),
	}
	s.seed()
	return s
}

// ListShelves implements librarypb.LibraryServiceServer.
func (s *Service) ListShelves(_ context.Context, req *librarypb.ListShelvesRequest) (*librarypb.ListShelvesResponse, error) {
	var v violations
	size := pageSize(req.GetPageSize(), &v)
	after := decodePageToken(req.GetPageToken(), &v)
	if err := v.err(); err != nil {
		return nil, err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	var all []*shelfRecord
	for _, r := range s.shelves {
		if r.seq > after {
			all = append(all, r)
		}
	}
	slices.SortFunc(all, func(a, b *shelfRecord) int { return cmp.Compare(a.seq, b.seq) })
	resp := &librarypb.ListShelvesResponse{}
	for i, r := range all {
		if i == size {
			resp.NextPageToken = encodePageToken(all[i-1].seq)
			break
		}
		resp.Shelves = append(resp.Shelves, s.shelfProto(r))
	}
	return resp, nil
}

// GetShelf implements librarypb.LibraryServiceServer.
func (s *Service) GetShelf(_ context.Context, req *librarypb.GetShelfRequest) (*librarypb.Shelf, error) {
	id, err := shelfFromField("name", req.GetName())
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.shelves[id]
	if !ok {
		return nil, notFound(shelfType, req.GetName())
	}
	return s.shelfProto(r), nil
}

// CreateShelf implements librarypb.LibraryServiceServer.
func (s *Service) CreateShelf(_ context.Context, req *librarypb.CreateShelfRequest) (*librarypb.Shelf, error) {
	var v violations
	var id string
	switch sh := req.GetShelf(); {
	case sh == nil:
		v.add("shelf", "is required")
	default:
		if sh.GetTheme() == "" {
			v.add("shelf.theme", "is required")
		}
		if sh.GetName() != "" {
			var ok bool
			if id, ok = parseShelfName(sh.GetName()); !ok {
				v.add("shelf.name", "must be empty or of the form shelves/{shelf}, got %q", sh.GetName())
			}
		}
	}
	if err := v.err(); err != nil {
		return nil, err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case id == "":
		id = freeID(&s.lastShelfID, s.shelfIDTaken)
	case s.shelfIDTaken(id):
		return nil, alreadyExists(shelfType, shelfName(id))
	}
	r := s.addShelf(id, req.GetShelf().GetTheme(), s.now())
	return s.shelfProto(r), nil
}

// DeleteShelf implements librarypb.LibraryServiceServer.
func (s *Service) DeleteShelf(_ context.Context, req *librarypb.DeleteShelfRequest) (*emptypb.Empty, error) {
	id, err := shelfFromField("name", req.GetName())
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.shelfIDTaken(id) {
		return nil, notFound(shelfType, req.GetName())
	}
	books := s.booksOn(id)
	if locked := lockedNames(books); len(locked) > 0 {
		return nil, lockedErr(locked...)
	}
	for _, r := range books {
		delete(s.books, r.id)
	}
	delete(s.shelves, id)
	return &emptypb.Empty{}, nil
}

// MergeShelves implements librarypb.LibraryServiceServer.
func (s *Service) MergeShelves(_ context.Context, req *librarypb.MergeShelvesRequest) (*librarypb.Shelf, error) {
	var v violations
	id := shelfField("name", req.GetName(), &v)
	other := shelfField("other_shelf_name", req.GetOtherShelfName(), &v)
	if id != "" && id == other {
		v.add("other_shelf_name", "must name a shelf other than %q", req.GetName())
	}
	if err := v.err(); err != nil {
		return nil, err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	target, ok := s.shelves[id]
	if !ok {
		return nil, notFound(shelfType, req.GetName())
	}
	if !s.shelfIDTaken(other) {
		return nil, notFound(shelfType, req.GetOtherShelfName())
	}
	books := s.booksOn(other)
	if locked := lockedNames(books); len(locked) > 0 {
		return nil, lockedErr(locked...)
	}
	for _, r := range books {
		moveBook(r, id)
	}
	delete(s.shelves, other)
	return s.shelfProto(target), nil
}

// ListBooks implements librarypb.LibraryServiceServer.
func (s *Service) ListBooks(_ context.Context, req *librarypb.ListBooksRequest) (*librarypb.ListBooksResponse, error) {
	var v violations
	shelfID := shelfField("parent", req.GetParent(), &v)
	size := pageSize(req.GetPageSize(), &v)
	after := decodePageToken(req.GetPageToken(), &v)
	if t := req.GetPublishedAfter(); t != nil && t.CheckValid() != nil {
		v.add("published_after", "%v", t.CheckValid())
	}
	if err := v.err(); err != nil {
		return nil, err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.shelfIDTaken(shelfID) {
		return nil, notFound(shelfType, req.GetParent())
	}
	var matched []*bookRecord
	for _, r := range s.booksOn(shelfID) {
		if r.seq > after && matches(r.book, req) {
			matched = append(matched, r)
		}
	}
	resp := &librarypb.ListBooksResponse{}
	for i, r := range matched {
		if i == size {
			resp.NextPageToken = encodePageToken(matched[i-1].seq)
			break
		}
		resp.Books = append(resp.Books, bookProto(r))
	}
	return resp, nil
}

// matches reports whether b passes every filter set in req.
func matches(b *librarypb.Book, req *librarypb.ListBooksRequest) bool {
	if g := req.GetGenre(); g != librarypb.Genre_GENRE_UNSPECIFIED && b.GetGenre() != g {
		return false
	}
	for _, tag := range req.GetTags() {
		if !slices.Contains(b.GetTags(), tag) {
			return false
		}
	}
	if t := req.GetPublishedAfter(); t != nil {
		if b.GetPublishTime() == nil || !b.GetPublishTime().AsTime().After(t.AsTime()) {
			return false
		}
	}
	if m := req.GetMinRating(); m != nil {
		if b.GetRating() == nil || b.GetRating().GetValue() < m.GetValue() {
			return false
		}
	}
	if a := req.GetFilter().GetAuthor(); a != "" && !strings.EqualFold(b.GetAuthor(), a) {
		return false
	}
	return true
}

// GetBook implements librarypb.LibraryServiceServer.
func (s *Service) GetBook(_ context.Context, req *librarypb.GetBookRequest) (*librarypb.Book, error) {
	name := req.GetName()
	if author, bookID, ok := parseAuthorBookName(name); ok {
		s.mu.Lock()
		defer s.mu.Unlock()
		r, ok := s.books[bookID]
		// An author segment with no letters or digits has an empty slug; it must not
		// match books that have no author.
		if !ok || slug(author) == "" || slug(r.book.GetAuthor()) != slug(author) {
			return nil, notFound(bookType, name)
		}
		return bookProto(r), nil
	}
	if strings.HasPrefix(name, "authors/") {
		var v violations
		v.add("name", "must be of the form authors/{author}/books/{book}, got %q", name)
		return nil, v.err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.findBook("name", name)
	if err != nil {
		return nil, err
	}
	return bookProto(r), nil
}

// GetBookTitle implements librarypb.LibraryServiceServer.
func (s *Service) GetBookTitle(_ context.Context, req *librarypb.GetBookTitleRequest) (*librarypb.BookTitle, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.findBook("name", req.GetName())
	if err != nil {
		return nil, err
	}
	title, subtitle, _ := strings.Cut(r.book.GetTitle(), ": ")
	return &librarypb.BookTitle{Title: title, Subtitle: subtitle}, nil
}

// CreateBook implements librarypb.LibraryServiceServer.
func (s *Service) CreateBook(_ context.Context, req *librarypb.CreateBookRequest) (*librarypb.Book, error) {
	var v violations
	shelfID := shelfField("parent", req.GetParent(), &v)
	if req.GetBook() == nil {
		v.add("book", "is required")
	} else {
		validateBook("book", req.GetBook(), &v)
	}
	if id := req.GetBookId(); id != "" && !validID(id) {
		v.add("book_id", "must be 1 to %d characters of a-z, 0-9 and '-', not starting with '-', got %q", maxIDLen, id)
	}
	if err := v.err(); err != nil {
		return nil, err
	}

	b := proto.Clone(req.GetBook()).(*librarypb.Book)
	b.Locked = false // output only: a new book is never locked
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.shelfIDTaken(shelfID) {
		return nil, notFound(shelfType, req.GetParent())
	}
	bookID := req.GetBookId()
	switch {
	case bookID == "":
		bookID = freeID(&s.lastBookID, s.bookIDTaken)
	case s.bookIDTaken(bookID):
		// IDs are unique across shelves, so report the name the ID already has.
		return nil, alreadyExists(bookType, s.books[bookID].book.GetName())
	}
	return bookProto(s.addBook(shelfID, bookID, b)), nil
}

// UpdateBook implements librarypb.LibraryServiceServer.
func (s *Service) UpdateBook(_ context.Context, req *librarypb.UpdateBookRequest) (*librarypb.Book, error) {
	var v violations
	if req.GetBook() == nil {
		v.add("book", "is required")
	} else if _, _, ok := parseBookName(req.GetBook().GetName()); !ok {
		v.add("book.name", "must be of the form shelves/{shelf}/books/{book}, got %q", req.GetBook().GetName())
	}
	fields := maskFields(req.GetUpdateMask(), &v)
	if err := v.err(); err != nil {
		return nil, err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.findUnlockedBook("book.name", req.GetBook().GetName())
	if err != nil {
		return nil, err
	}
	updated := proto.Clone(r.book).(*librarypb.Book)
	applyMask(updated, req.GetBook(), fields)
	validateBook("book", updated, &v)
	if err := v.err(); err != nil {
		return nil, err
	}
	r.book = updated
	return bookProto(r), nil
}

// DeleteBook implements librarypb.LibraryServiceServer.
func (s *Service) DeleteBook(_ context.Context, req *librarypb.DeleteBookRequest) (*emptypb.Empty, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.findUnlockedBook("name", req.GetName())
	if err != nil {
		return nil, err
	}
	delete(s.books, r.id)
	return &emptypb.Empty{}, nil
}

// MoveBook implements librarypb.LibraryServiceServer.
func (s *Service) MoveBook(_ context.Context, req *librarypb.MoveBookRequest) (*librarypb.Book, error) {
	var v violations
	if _, _, ok := parseBookName(req.GetName()); !ok {
		v.add("name", "must be of the form shelves/{shelf}/books/{book}, got %q", req.GetName())
	}
	dest := shelfField("other_shelf_name", req.GetOtherShelfName(), &v)
	if err := v.err(); err != nil {
		return nil, err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.findBook("name", req.GetName())
	if err != nil {
		return nil, err
	}
	if !s.shelfIDTaken(dest) {
		return nil, notFound(shelfType, req.GetOtherShelfName())
	}
	if r.shelfID == dest {
		return bookProto(r), nil
	}
	if r.book.GetLocked() {
		return nil, lockedErr(r.book.GetName())
	}
	moveBook(r, dest)
	return bookProto(r), nil
}

// GetBookCover implements librarypb.LibraryServiceServer.
func (s *Service) GetBookCover(_ context.Context, req *librarypb.GetBookCoverRequest) (*httpbody.HttpBody, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.findBook("name", req.GetName())
	if err != nil {
		return nil, err
	}
	return &httpbody.HttpBody{ContentType: r.coverType, Data: slices.Clone(r.cover)}, nil
}

// UploadBookCover implements librarypb.LibraryServiceServer.
func (s *Service) UploadBookCover(_ context.Context, req *librarypb.UploadBookCoverRequest) (*emptypb.Empty, error) {
	var v violations
	if _, _, ok := parseBookName(req.GetName()); !ok {
		v.add("name", "must be of the form shelves/{shelf}/books/{book}, got %q", req.GetName())
	}
	cover := req.GetCover()
	switch {
	case cover == nil:
		v.add("cover", "is required")
	default:
		if !strings.HasPrefix(cover.GetContentType(), "image/") {
			v.add("cover.content_type", "must be an image/... media type, got %q", cover.GetContentType())
		}
		if len(cover.GetData()) == 0 {
			v.add("cover.data", "must not be empty")
		} else if len(cover.GetData()) > maxCoverBytes {
			v.add("cover.data", "must be at most %d bytes, got %d", maxCoverBytes, len(cover.GetData()))
		}
	}
	if err := v.err(); err != nil {
		return nil, err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.findUnlockedBook("name", req.GetName())
	if err != nil {
		return nil, err
	}
	r.cover = slices.Clone(cover.GetData())
	r.coverType = cover.GetContentType()
	return &emptypb.Empty{}, nil
}

// LockBook implements librarypb.LibraryServiceServer.
func (s *Service) LockBook(_ context.Context, req *librarypb.LockBookRequest) (*librarypb.Book, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.findBook("name", req.GetName())
	if err != nil {
		return nil, err
	}
	r.book.Locked = !req.GetUnlock()
	return bookProto(r), nil
}

// findBook resolves a canonical book name taken from the request field called field:
// InvalidArgument if it is malformed, NotFound if no such book. s.mu must be held.
func (s *Service) findBook(field, name string) (*bookRecord, error) {
	shelfID, bookID, ok := parseBookName(name)
	if !ok {
		var v violations
		v.add(field, "must be of the form shelves/{shelf}/books/{book}, got %q", name)
		return nil, v.err()
	}
	r, ok := s.lookupBook(shelfID, bookID)
	if !ok {
		return nil, notFound(bookType, name)
	}
	return r, nil
}

// findUnlockedBook is findBook for operations a lock forbids:
// FailedPrecondition when the book is locked. s.mu must be held.
func (s *Service) findUnlockedBook(field, name string) (*bookRecord, error) {
	r, err := s.findBook(field, name)
	if err != nil {
		return nil, err
	}
	if r.book.GetLocked() {
		return nil, lockedErr(r.book.GetName())
	}
	return r, nil
}

// shelfField parses the shelf name in the request field called field, recording a
// violation if it is malformed.
func shelfField(field, name string, v *violations) string {
	id, ok := parseShelfName(name)
	if !ok {
		v.add(field, "must be of the form shelves/{shelf}, got %q", name)
	}
	return id
}

// shelfFromField is shelfField for a request with no other field to check.
func shelfFromField(field, name string) (string, error) {
	var v violations
	id := shelfField(field, name, &v)
	return id, v.err()
}
