package reflection

import (
	"math/rand/v2"
	"time"
)

// jitter returns d scaled by a random factor in [1-jitterFraction,
// 1+jitterFraction], so that a fleet of gateways does not refresh in step.
func jitter(d time.Duration) time.Duration {
	f := 1 - jitterFraction + 2*jitterFraction*rand.Float64()
	return time.Duration(float64(d) * f)
}

// backoff returns the wait after the n-th consecutive failure (n ≥ 1):
// retryMin doubled n-1 times, jittered, never above retryMax.
func backoff(retryMin, retryMax time.Duration, n int) time.Duration {
	return min(jitter(backoffBase(retryMin, retryMax, n)), retryMax)
}

// backoffBase is retryMin·2^(n-1) capped at retryMax, without overflow.
func backoffBase(retryMin, retryMax time.Duration, n int) time.Duration {
	d := retryMin
	for i := 1; i < n && d < retryMax; i++ {
		d *= 2
	}
	return min(d, retryMax)
}
