package library

import (
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/refract-gateway/refract/examples/library/librarypb"
)

// seed fills an empty store with the documented starting data:
//
//	shelves/1  "Fiction"
//	  shelves/1/books/1  "The Left Hand of Darkness", Ursula K. Le Guin
//	  shelves/1/books/2  "One Hundred Years of Solitude", Gabriel García Márquez
//	shelves/2  "History"
//	  shelves/2/books/3  "SPQR: A History of Ancient Rome", Mary Beard
//
// Between them the books set every Book field, both oneof members, and leave some
// optional fields unset, so the JSON mapping of each case can be tested on seed data.
func (s *Service) seed() {
	// A fixed create_time keeps responses about the seed data byte-for-byte
	// predictable in tests.
	created := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	s.addShelf("1", "Fiction", created)
	s.addShelf("2", "History", created)
	s.addBook("1", "1", &librarypb.Book{
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
	})
	s.addBook("1", "2", &librarypb.Book{
		Title:         "One Hundred Years of Solitude",
		Author:        "Gabriel García Márquez",
		Genre:         librarypb.Genre_FICTION,
		PageCount:     417,
		PublishTime:   timestamppb.New(time.Date(1967, 5, 30, 0, 0, 0, 0, time.UTC)),
		ReadTime:      durationpb.New(13 * time.Hour),
		Tags:          []string{"classic", "magical-realism"},
		Labels:        map[string]string{"language": "en", "translated-from": "es"},
		Rating:        wrapperspb.Double(4.2),
		OriginalTitle: "Cien años de soledad",
		Availability:  &librarypb.Book_DueBack{DueBack: timestamppb.New(time.Date(2030, 1, 15, 0, 0, 0, 0, time.UTC))},
	})
	s.addBook("2", "3", &librarypb.Book{
		Title:        "SPQR: A History of Ancient Rome",
		Author:       "Mary Beard",
		Genre:        librarypb.Genre_HISTORY,
		PageCount:    608,
		PublishTime:  timestamppb.New(time.Date(2015, 10, 20, 0, 0, 0, 0, time.UTC)),
		Tags:         []string{"rome", "non-fiction"},
		Availability: &librarypb.Book_InStock{InStock: false},
	})
}
