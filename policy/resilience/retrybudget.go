package resilience

import (
	"errors"
	"sync"
)

// RetryBudget caps retries as a share of calls, so that when an upstream
// is down retries add at most that share of load instead of multiplying
// it. Each call deposits Ratio of a token, each retry spends one; the
// balance starts at, and never exceeds, Reserve, which also lets a quiet
// upstream retry a few calls. Safe for concurrent use.
type RetryBudget struct {
	mu      sync.Mutex
	ratio   float64
	reserve float64
	balance float64
}

// CheckRetryBudget reports what NewRetryBudget would refuse: a ratio
// outside 0–1, a negative reserve.
func CheckRetryBudget(ratio float64, reserve int) error {
	if ratio < 0 || ratio > 1 {
		return errors.New("policy: retry budget ratio must be between 0 and 1")
	}
	if reserve < 0 {
		return errors.New("policy: retry budget reserve must not be negative")
	}
	return nil
}

// NewRetryBudget validates ratio (0–1) and reserve (≥ 0).
func NewRetryBudget(ratio float64, reserve int) (*RetryBudget, error) {
	if err := CheckRetryBudget(ratio, reserve); err != nil {
		return nil, err
	}
	return &RetryBudget{ratio: ratio, reserve: float64(reserve), balance: float64(reserve)}, nil
}

func (b *RetryBudget) deposit() {
	b.mu.Lock()
	b.balance = min(b.balance+b.ratio, max(b.reserve, 1))
	b.mu.Unlock()
}

func (b *RetryBudget) withdraw() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.balance < 1 {
		return false
	}
	b.balance--
	return true
}
