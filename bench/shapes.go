package bench

import (
	"fmt"
	"time"

	"github.com/refract-gateway/refract/bench/benchpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// TinyPayload is the tiny shape: four scalars, about 50 bytes of JSON.
func TinyPayload() *benchpb.Payload {
	return &benchpb.Payload{Id: "a1", Seq: 42, Count: 3, Active: true}
}

// ItemsPayload is a Payload with every field kind set and n repeated
// nested items: n=5 is about 1 KB of JSON, n=90 about 16 KB.
func ItemsPayload(n int) *benchpb.Payload {
	p := &benchpb.Payload{
		Id:        "order-7f3a9c",
		Seq:       9007199254740993, // above 2^53: must travel as a JSON string
		Count:     int32(n),
		Active:    true,
		Score:     98.625,
		State:     benchpb.State_STATE_ACTIVE,
		Primary:   item(0),
		Labels:    map[string]string{"region": "eu-west-1", "tier": "gold", "team": "payments"},
		CreatedAt: timestamppb.New(time.Date(2026, 3, 14, 15, 9, 26, 535_000_000, time.UTC)),
		Digest:    []byte("0123456789abcdef0123456789abcdef"),
	}
	for i := range n {
		p.Items = append(p.Items, item(int32(i+1)))
	}
	return p
}

func item(i int32) *benchpb.Item {
	return &benchpb.Item{
		Id:       int64(i) * 1_000_003,
		Name:     fmt.Sprintf("widget number %d, blue", i),
		Price:    float64(i) + 0.99,
		Quantity: uint32(i * 7),
		State:    benchpb.State(1 + i%2),
		Tags:     []string{"sale", "new", fmt.Sprintf("batch-%d", i)},
	}
}

// LookupPath and LookupQuery are the GET shape: two path variables and
// query parameters of several kinds (repeated, nested, enum by name, bool).
const (
	LookupPath  = "/v1/accounts/acme-corp/items/123456789"
	LookupQuery = "page_size=25&tags=red&tags=large&filter.state=STATE_ACTIVE&filter.min_quantity=3&include_deleted=true"
)

// LookupRequest is what LookupPath and LookupQuery decode to.
func LookupRequest() *benchpb.LookupRequest {
	return &benchpb.LookupRequest{
		Account:        "acme-corp",
		ItemId:         123456789,
		PageSize:       25,
		Tags:           []string{"red", "large"},
		Filter:         &benchpb.Filter{State: benchpb.State_STATE_ACTIVE, MinQuantity: 3},
		IncludeDeleted: true,
	}
}

// LookupResponse is the backend's answer to Lookup: it reflects every
// request field, so a binding lost on the way shows in the reply.
func LookupResponse(r *benchpb.LookupRequest) *benchpb.Payload {
	p := &benchpb.Payload{
		Id:     r.Account,
		Seq:    r.ItemId,
		Count:  r.PageSize,
		Active: !r.IncludeDeleted,
		State:  r.GetFilter().GetState(),
		Primary: &benchpb.Item{
			Id:       r.ItemId,
			Name:     "item " + r.Account,
			Quantity: uint32(r.GetFilter().GetMinQuantity()),
			State:    r.GetFilter().GetState(),
			Tags:     r.Tags,
		},
	}
	return p
}

// FeedCount is the length of the server stream shape.
const FeedCount = 1000

// FeedItem is the i-th message of Feed.
func FeedItem(i int32) *benchpb.Item {
	return item(i)
}
