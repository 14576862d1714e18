package discovery

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/consul/api"
)

// ConsulFailover watches one Consul service in several datacenters, in
// order of preference, and serves the instances of the first datacenter
// that has passing ones: the next only while none pass in (or none can be
// read from) those before it, and back as soon as they return. This is
// the rule of Consul's prepared-query failover, kept over one blocking
// query per datacenter so each change is followed at once. Immutable after
// NewConsulFailover but for what it serves; safe for concurrent use.
type ConsulFailover struct {
	dcs     []*Consul
	names   []string
	serving atomic.Int32 // index into dcs of the datacenter served; -1: none
}

// NewConsulFailover returns a source over opts' service in each of
// datacenters (two or more, distinct, in order of preference); opts'
// Datacenter is ignored.
func NewConsulFailover(opts ConsulOptions, datacenters []string) (*ConsulFailover, error) {
	if len(datacenters) < 2 {
		return nil, errors.New("discovery: consul failover needs two or more datacenters")
	}
	f := &ConsulFailover{names: slices.Clone(datacenters)}
	f.serving.Store(-1)
	for i, dc := range datacenters {
		if dc == "" || slices.Contains(datacenters[:i], dc) {
			return nil, fmt.Errorf("discovery: consul failover: datacenter %q is empty or listed twice", dc)
		}
		o := opts
		o.Datacenter = dc
		c, err := NewConsul(o)
		if err != nil {
			return nil, err
		}
		f.dcs = append(f.dcs, c)
	}
	return f, nil
}

func (f *ConsulFailover) String() string {
	c := f.dcs[0]
	s := "consul(" + c.opts.Service
	for _, t := range c.opts.Tags {
		s += ",tag=" + t
	}
	return s + ",dc=" + strings.Join(f.names, ">") + ")"
}

// Datacenter is the datacenter whose instances are served, "" before any
// is (or while none has passing instances). Safe for concurrent use.
func (f *ConsulFailover) Datacenter() string {
	if i := f.serving.Load(); i >= 0 {
		return f.names[i]
	}
	return ""
}

// LastIndex is the Consul index of the served datacenter's last answer (0
// when none is served). Safe for concurrent use.
func (f *ConsulFailover) LastIndex() uint64 {
	if i := f.serving.Load(); i >= 0 {
		return f.dcs[i].LastIndex()
	}
	return 0
}

// dcState is what one datacenter's watch last said.
type dcState struct {
	answered bool // an answer or an error came
	eps      []Endpoint
	err      error
}

// Watch runs one blocking-query watch per datacenter until ctx is done and
// pushes the chosen set whenever it, or the datacenter it comes from,
// changes. The choice waits for every datacenter ahead of a candidate to
// have answered, so that a start does not serve a remote datacenter for a
// moment. When no datacenter has passing instances it pushes the empty
// set if all of them answered so, and otherwise (one could not be read,
// e.g. the local agent is down) the last set with the errors, as a single
// Consul source does through an outage.
func (f *ConsulFailover) Watch(ctx context.Context, push func(Update)) {
	type report struct {
		i  int
		up Update
	}
	ch := make(chan report)
	var wg sync.WaitGroup
	defer wg.Wait()
	for i, c := range f.dcs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Watch(ctx, func(up Update) {
				select {
				case ch <- report{i, up}:
				case <-ctx.Done():
				}
			})
		}()
	}
	states := make([]dcState, len(f.dcs))
	var (
		last      []Endpoint
		lastDC    = -2 // none pushed yet
		lastStale bool
	)
	for {
		var r report
		select {
		case <-ctx.Done():
			return
		case r = <-ch:
		}
		states[r.i] = dcState{answered: true, eps: r.up.Endpoints, err: r.up.Err}
		chosen, decided, errs := choose(states)
		if !decided {
			continue
		}
		switch {
		case chosen >= 0:
			eps := states[chosen].eps
			if lastDC != chosen || lastStale || !sameEndpoints(last, eps) {
				f.serving.Store(int32(chosen))
				push(Update{Endpoints: slices.Clone(eps)})
			}
			last, lastDC, lastStale = eps, chosen, false
		case errs == nil:
			// Every datacenter answered: none has a passing instance.
			if lastDC != -1 || lastStale {
				f.serving.Store(-1)
				push(Update{Endpoints: []Endpoint{}})
			}
			last, lastDC, lastStale = nil, -1, false
		case !lastStale:
			// The set served stays (its datacenter is still named), stale.
			push(Update{Endpoints: slices.Clone(last), Err: errs})
			lastStale = true
		}
	}
}

// choose picks the first datacenter with passing instances. decided is
// false while a datacenter ahead of every candidate has not answered yet.
// A datacenter the agent says it cannot reach is passed over; but when
// the agent itself does not answer, every datacenter is unknown, not
// empty, and nothing is chosen (chosen -1 with the error): an agent
// restart must not send traffic to a remote datacenter. errs joins the
// errors that stopped the choice.
func choose(states []dcState) (chosen int, decided bool, errs error) {
	var failed []error
	for i, s := range states {
		var answered api.StatusError
		switch {
		case !s.answered:
			return -1, false, nil
		case s.err != nil && !errors.As(s.err, &answered):
			return -1, true, s.err
		case s.err != nil:
			failed = append(failed, s.err)
		case len(s.eps) > 0:
			return i, true, nil
		}
	}
	return -1, true, errors.Join(failed...)
}
