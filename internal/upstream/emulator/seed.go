package emulator

import (
	"fmt"
	"time"
)

// SeedKey describes a key for SeedKeys.
type SeedKey struct {
	Description string    `json:"description"`
	Expires     time.Time `json:"expires"`
}

// SeedKeys adds keys to service account sa directly, without an HTTP call
// each: a test of a service account holding tens of thousands of keys
// sets it up in one step. Their secrets are random and never revealed.
// It returns the new keys' ids.
func (s *Server) SeedKeys(sa string, keys []SeedKey) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.st.accounts[sa]; !ok {
		return nil, fmt.Errorf("emulator: no service account %q", sa)
	}
	now := s.nowLocked()
	ids := make([]string, 0, len(keys))
	for _, k := range keys {
		id, err1 := randomHex(s.cfg.rand, 8)
		secret, err2 := randomHex(s.cfg.rand, 24)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("emulator: no randomness")
		}
		s.st.addKey(&apiKey{
			id: id, accountID: sa, description: k.Description, hash: hashSecret(secret),
			expires: k.Expires, created: now, modified: now,
		})
		ids = append(ids, id)
	}
	return ids, nil
}
