package reflection

import (
	"fmt"
	"time"

	"github.com/rs/zerolog"
)

// Defaults taken by zero-valued Options fields.
const (
	// DefaultRefreshInterval is the default Options.RefreshInterval.
	DefaultRefreshInterval = 30 * time.Second
	// DefaultFetchTimeout is the default Options.FetchTimeout.
	DefaultFetchTimeout = 10 * time.Second
	// DefaultRetryMin is the default Options.RetryMin.
	DefaultRetryMin = 250 * time.Millisecond
	// DefaultRetryMax is the default Options.RetryMax.
	DefaultRetryMax = 15 * time.Second
	// DefaultOnDemandInterval is the default Options.OnDemandInterval.
	DefaultOnDemandInterval = 5 * time.Second
	// DefaultEndpointSettle is the default Options.EndpointSettle.
	DefaultEndpointSettle = time.Second
	// DefaultTypeLookupTimeout is the default Options.TypeLookupTimeout, and
	// the timeout of lazy lookups of snapshots returned by Fetch.
	DefaultTypeLookupTimeout = 2 * time.Second
	// DefaultTypeLookupNegative is the default Options.TypeLookupNegativeTTL.
	DefaultTypeLookupNegative = 10 * time.Second
	// DefaultMaxFiles is the default Options.MaxFiles.
	DefaultMaxFiles = 1000
	// DefaultMaxBytes is the default Options.MaxBytes: 16 MiB.
	DefaultMaxBytes = 16 << 20
	// DefaultMaxMethods is the default Options.MaxMethods.
	DefaultMaxMethods = 5000
	// DefaultHistory is the default Options.History.
	DefaultHistory = 10
)

// jitterFraction is the ± fraction applied to refresh intervals and backoffs.
const jitterFraction = 0.2

// Options configures a Cache. Every zero value takes the documented default;
// negative durations are rejected by NewCache.
type Options struct {
	// Logger receives state transitions (ready, stale, failed, recovered,
	// descriptors changed) at info/warn level and every retry at debug level.
	// Default: the zero Logger, which discards everything like zerolog.Nop().
	Logger zerolog.Logger
	// RefreshInterval is the period of background refreshes of a healthy
	// upstream, jittered ±20%. Default 30s.
	RefreshInterval time.Duration
	// FetchTimeout bounds one whole fetch (list services, every file and
	// dependency). Default 10s.
	FetchTimeout time.Duration
	// RetryMin is the backoff after the first failed fetch; it doubles with
	// every consecutive failure (jittered ±20%) up to RetryMax. Default 250ms.
	RetryMin time.Duration
	// RetryMax caps the backoff between failed fetches. Default 15s.
	RetryMax time.Duration
	// OnDemandInterval is the minimum spacing, per upstream, of fetches
	// triggered by RequestRefresh. Requests arriving sooner are not dropped:
	// they collapse into one fetch at the end of the interval. Default 5s.
	OnDemandInterval time.Duration
	// EndpointSettle is how long EndpointsChanged waits before fetching, so
	// that the balancer has connected to new endpoints; changes during the
	// wait collapse into one fetch. Default 1s.
	EndpointSettle time.Duration
	// TypeLookupTimeout bounds one lazy fetch of an unknown message type by
	// a Snapshot's TypeResolver. Default 2s.
	TypeLookupTimeout time.Duration
	// TypeLookupNegativeTTL is how long a type name that the upstream could
	// not resolve is answered NotFound without asking again. Default 10s.
	TypeLookupNegativeTTL time.Duration
	// MaxFiles, MaxBytes and MaxMethods bound one upstream's descriptor
	// set: the files (dependencies included), the bytes of the reflection
	// answers, and the methods of the services in those files. A fetch
	// going over one fails with RESOURCE_EXHAUSTED naming the limit, as
	// soon as it is known, and the last good snapshot stays. Defaults
	// 1000 files, 16 MiB and 5000 methods.
	MaxFiles, MaxMethods int
	MaxBytes             int64
	// History is how many schema versions each upstream keeps (with their
	// descriptors, for diffs and downloads). Default 10.
	History int
	// Now is the clock used for timestamps and on-demand rate limiting.
	// Default time.Now.
	Now func() time.Time
}

// withDefaults validates o and returns a copy with defaults filled in.
func (o Options) withDefaults() (Options, error) {
	durations := []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"RefreshInterval", &o.RefreshInterval, DefaultRefreshInterval},
		{"FetchTimeout", &o.FetchTimeout, DefaultFetchTimeout},
		{"RetryMin", &o.RetryMin, DefaultRetryMin},
		{"RetryMax", &o.RetryMax, DefaultRetryMax},
		{"OnDemandInterval", &o.OnDemandInterval, DefaultOnDemandInterval},
		{"EndpointSettle", &o.EndpointSettle, DefaultEndpointSettle},
		{"TypeLookupTimeout", &o.TypeLookupTimeout, DefaultTypeLookupTimeout},
		{"TypeLookupNegativeTTL", &o.TypeLookupNegativeTTL, DefaultTypeLookupNegative},
	}
	for _, d := range durations {
		if *d.v < 0 {
			return o, fmt.Errorf("reflection: options: %s must not be negative, got %v", d.name, *d.v)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if o.MaxFiles < 0 || o.MaxMethods < 0 || o.MaxBytes < 0 {
		return o, fmt.Errorf("reflection: options: MaxFiles, MaxMethods and MaxBytes must not be negative")
	}
	if o.MaxFiles == 0 {
		o.MaxFiles = DefaultMaxFiles
	}
	if o.MaxMethods == 0 {
		o.MaxMethods = DefaultMaxMethods
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.History < 0 {
		return o, fmt.Errorf("reflection: options: History must not be negative")
	}
	if o.History == 0 {
		o.History = DefaultHistory
	}
	if o.RetryMin > o.RetryMax {
		return o, fmt.Errorf("reflection: options: RetryMin %v exceeds RetryMax %v", o.RetryMin, o.RetryMax)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	// The zero zerolog.Logger has no writer and is already a no-op, the same
	// as zerolog.Nop(): nothing to fill in.
	return o, nil
}
