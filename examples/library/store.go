package library

import (
	"cmp"
	"slices"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/refract-gateway/refract/examples/library/librarypb"
)

// The store is the Service's in-memory state. Its methods expect s.mu to be held.

// shelfRecord is a stored shelf.
type shelfRecord struct {
	id         string
	seq        int64 // creation order, which listings follow
	theme      string
	createTime time.Time
}

// bookRecord is a stored book with its cover.
type bookRecord struct {
	id        string // the book's ID, unique across shelves
	shelfID   string
	seq       int64
	book      *librarypb.Book // name always kept canonical; never handed out, only clones
	cover     []byte
	coverType string
}

// addShelf stores a new shelf.
func (s *Service) addShelf(id, theme string, created time.Time) *shelfRecord {
	s.seq++
	r := &shelfRecord{id: id, seq: s.seq, theme: theme, createTime: created}
	s.shelves[id] = r
	return r
}

// addBook stores b, which the store takes ownership of, as book bookID on shelf
// shelfID, with the default cover.
func (s *Service) addBook(shelfID, bookID string, b *librarypb.Book) *bookRecord {
	s.seq++
	b.Name = bookName(shelfID, bookID)
	r := &bookRecord{
		id:        bookID,
		shelfID:   shelfID,
		seq:       s.seq,
		book:      b,
		cover:     defaultCover(b.GetTitle(), b.GetAuthor()),
		coverType: defaultCoverType,
	}
	s.books[bookID] = r
	return r
}

// moveBook puts a stored book on shelf shelfID.
func moveBook(r *bookRecord, shelfID string) {
	r.shelfID = shelfID
	r.book.Name = bookName(shelfID, r.id)
}

// freeID returns the lowest unused numeric ID above those handed out before. IDs are
// never reused, so a deleted resource's name cannot come back as a different one.
// last is the counter of the kind of resource, shelves or books.
func freeID(last *int64, taken func(string) bool) string {
	for {
		*last++
		if id := strconv.FormatInt(*last, 10); !taken(id) {
			return id
		}
	}
}

// shelfIDTaken and bookIDTaken report whether an ID is in use.
func (s *Service) shelfIDTaken(id string) bool { _, ok := s.shelves[id]; return ok }
func (s *Service) bookIDTaken(id string) bool  { _, ok := s.books[id]; return ok }

// lookupBook finds the book named shelves/{shelfID}/books/{bookID}: the ID must
// exist and the book must be on that shelf.
func (s *Service) lookupBook(shelfID, bookID string) (*bookRecord, bool) {
	r, ok := s.books[bookID]
	if !ok || r.shelfID != shelfID {
		return nil, false
	}
	return r, true
}

// booksOn returns the books on a shelf in creation order.
func (s *Service) booksOn(shelfID string) []*bookRecord {
	var out []*bookRecord
	for _, r := range s.books {
		if r.shelfID == shelfID {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b *bookRecord) int { return cmp.Compare(a.seq, b.seq) })
	return out
}

// lockedNames returns the names of the locked books among rs.
func lockedNames(rs []*bookRecord) []string {
	var names []string
	for _, r := range rs {
		if r.book.GetLocked() {
			names = append(names, r.book.GetName())
		}
	}
	return names
}

// shelfProto renders a shelf for a response.
func (s *Service) shelfProto(r *shelfRecord) *librarypb.Shelf {
	return &librarypb.Shelf{
		Name:       shelfName(r.id),
		Theme:      r.theme,
		BookCount:  int64(len(s.booksOn(r.id))),
		CreateTime: timestamppb.New(r.createTime),
	}
}

// bookProto renders a book for a response: a copy, so the caller may keep or change it.
func bookProto(r *bookRecord) *librarypb.Book {
	return proto.Clone(r.book).(*librarypb.Book)
}
