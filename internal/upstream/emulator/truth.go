package emulator

import (
	"time"

	"github.com/ztbroker/ztbroker/internal/lease"
)

// GroundTruth is every token the emulator has seen minted, live or not.
// It names tokens by id, name, SHA-256 and expiry — never by value.
type GroundTruth struct {
	Now             time.Time      `json:"now"`
	ServiceAccounts []AccountTruth `json:"serviceAccounts"`
	LegacyUsers     []UserTruth    `json:"legacyUsers"`
}

// AccountTruth is one New Central service account and its keys.
type AccountTruth struct {
	ID   string     `json:"id"`
	Keys []KeyTruth `json:"keys"`
}

// KeyTruth is one New Central API key.
type KeyTruth struct {
	ID           string    `json:"id"`
	Description  string    `json:"description"`
	SHA256       string    `json:"sha256"`
	Expires      time.Time `json:"expires"`
	CreationTime time.Time `json:"creationTime"`
	LastUsed     time.Time `json:"lastUsed,omitzero"`
	DeletedAt    time.Time `json:"deletedAt,omitzero"`
	Deleted      bool      `json:"deleted"`
	Expired      bool      `json:"expired"`
	// Alive means the key would authenticate right now.
	Alive bool `json:"alive"`
	// Admin marks the key seeded from the admin token.
	Admin bool `json:"admin,omitempty"`
}

// UserTruth is one Legacy user and every token it has had.
type UserTruth struct {
	ID     string        `json:"id"`
	Tokens []LegacyTruth `json:"tokens"`
}

// LegacyTruth is one Legacy user token.
type LegacyTruth struct {
	Name         string    `json:"name"`
	SHA256       string    `json:"sha256"`
	CreationTime time.Time `json:"creationTime"`
	DeletedAt    time.Time `json:"deletedAt,omitzero"`
	Deleted      bool      `json:"deleted"`
	Alive        bool      `json:"alive"`
	// Admin marks the token seeded from the admin token.
	Admin bool `json:"admin,omitempty"`
}

// LiveToken is a token that would authenticate now, on either API.
type LiveToken struct {
	// Kind is lease.UpstreamNewCentral or lease.UpstreamLegacy.
	Kind    string
	Account string
	// ID is the key id or the Legacy token name.
	ID     string
	SHA256 string
}

// Alive lists every token that would authenticate now, but for the seeded
// admin credential: the set a "no credential outlives its lease" test
// compares against the broker's leases.
func (g GroundTruth) Alive() []LiveToken {
	var out []LiveToken
	for _, a := range g.ServiceAccounts {
		for _, k := range a.Keys {
			if k.Alive && !k.Admin {
				out = append(out, LiveToken{lease.UpstreamNewCentral, a.ID, k.ID, k.SHA256})
			}
		}
	}
	for _, u := range g.LegacyUsers {
		for _, t := range u.Tokens {
			if t.Alive && !t.Admin {
				out = append(out, LiveToken{lease.UpstreamLegacy, u.ID, t.Name, t.SHA256})
			}
		}
	}
	return out
}

// Tokens returns the ground truth.
func (s *Server) Tokens() GroundTruth {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.nowLocked()
	g := GroundTruth{Now: now.UTC()}
	for _, id := range s.st.accountOrder {
		at := AccountTruth{ID: id, Keys: []KeyTruth{}}
		for _, kid := range s.st.accounts[id].keyIDs {
			k := s.st.keys[kid]
			at.Keys = append(at.Keys, KeyTruth{
				ID: k.id, Description: k.description, SHA256: k.hash,
				Expires: k.expires.UTC(), CreationTime: k.created.UTC(),
				LastUsed: utcOrZero(k.lastUsed), DeletedAt: utcOrZero(k.deletedAt),
				Deleted: k.deleted, Expired: k.expired(now),
				Alive: !k.deleted && !k.expired(now), Admin: k.admin,
			})
		}
		g.ServiceAccounts = append(g.ServiceAccounts, at)
	}
	byUser := map[string][]LegacyTruth{}
	for _, t := range s.st.legacyHistory {
		byUser[t.userID] = append(byUser[t.userID], LegacyTruth{
			Name: t.name, SHA256: t.hash, CreationTime: t.created.UTC(),
			DeletedAt: utcOrZero(t.deletedAt), Deleted: t.deleted, Alive: !t.deleted, Admin: t.admin,
		})
	}
	for _, id := range s.st.userOrder {
		ut := UserTruth{ID: id, Tokens: byUser[id]}
		if ut.Tokens == nil {
			ut.Tokens = []LegacyTruth{}
		}
		g.LegacyUsers = append(g.LegacyUsers, ut)
	}
	return g
}

func utcOrZero(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}
