package accounts

import (
	"context"
	"fmt"
	"sync/atomic"

	"google.golang.org/protobuf/proto"

	"github.com/refract-gateway/refract/examples/accounts/accountspb"
)

// Service implements accountspb.AccountsServiceServer: it numbers the accounts it
// creates and keeps nothing else. Safe for concurrent use.
type Service struct {
	accountspb.UnimplementedAccountsServiceServer
	next atomic.Int64
}

// NewService returns a service whose first account is accounts/1.
func NewService() *Service { return &Service{} }

// CreateAccount returns the account with its id set.
func (s *Service) CreateAccount(_ context.Context, req *accountspb.CreateAccountRequest) (*accountspb.Account, error) {
	a := proto.CloneOf(req.GetAccount())
	if a == nil {
		a = &accountspb.Account{}
	}
	a.Id = fmt.Sprintf("accounts/%d", s.next.Add(1))
	return a, nil
}
