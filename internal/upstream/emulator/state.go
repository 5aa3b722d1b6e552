package emulator

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// state is everything the fake APIs hold. Secrets exist only as hashes.
type state struct {
	accounts     map[string]*serviceAccount
	accountOrder []string
	keys         map[string]*apiKey // by key id, deleted ones included
	keyByHash    map[string]*apiKey

	users     map[string]*legacyUser
	userOrder []string
	// legacyHistory holds every Legacy token ever created, for ground truth.
	legacyHistory []*legacyToken
	legacyByHash  map[string]*legacyToken

	networks     map[string]*network
	networkOrder []string
}

type serviceAccount struct {
	id, name, description string
	created               time.Time
	keyIDs                []string
}

type apiKey struct {
	id, accountID, description string
	hash                       string
	expires, created, modified time.Time
	lastUsed, deletedAt        time.Time
	deleted                    bool
	// admin marks the key seeded from the admin token.
	admin bool
}

type legacyUser struct {
	id     string
	tokens map[string]*legacyToken // live tokens by name
	order  []string
}

type legacyToken struct {
	userID, name, hash string
	created, deletedAt time.Time
	deleted            bool
	// admin marks the token seeded from the admin token.
	admin bool
}

// newState seeds the configured accounts and users, and the admin token as
// a real credential on each API: a key on the admin service account, a
// token on the first Legacy user.
func newState(c *config, adminHash string, now time.Time) *state {
	s := &state{
		accounts:     map[string]*serviceAccount{},
		keys:         map[string]*apiKey{},
		keyByHash:    map[string]*apiKey{},
		users:        map[string]*legacyUser{},
		legacyByHash: map[string]*legacyToken{},
		networks:     map[string]*network{},
	}
	for _, id := range c.serviceAccounts {
		if _, dup := s.accounts[id]; !dup {
			s.accounts[id] = &serviceAccount{id: id, created: now}
			s.accountOrder = append(s.accountOrder, id)
		}
	}
	for _, id := range c.legacyUsers {
		if _, dup := s.users[id]; !dup {
			s.users[id] = &legacyUser{id: id, tokens: map[string]*legacyToken{}}
			s.userOrder = append(s.userOrder, id)
		}
	}
	if _, ok := s.accounts[c.adminAccount]; !ok {
		s.accounts[c.adminAccount] = &serviceAccount{id: c.adminAccount, created: now}
		s.accountOrder = append(s.accountOrder, c.adminAccount)
	}
	// The seeded key's id is derived from the token's hash, so it stays
	// the same across resets without drawing randomness.
	idSum := sha256.Sum256([]byte("admin key id:" + adminHash))
	s.addKey(&apiKey{
		id: hex.EncodeToString(idSum[:8]), accountID: c.adminAccount, description: c.adminKeyDescription,
		hash: adminHash, expires: now.Add(c.adminKeyLifetime), created: now, modified: now, admin: true,
	})
	if len(s.userOrder) > 0 {
		s.addLegacyToken(&legacyToken{userID: s.userOrder[0], name: c.legacyAdminTokenName, hash: adminHash, created: now, admin: true})
	}
	for _, sa := range s.accounts {
		sa.name = sa.id
	}
	s.seedNetworks(c.networks, now)
	return s
}

func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// expired reports whether k's upstream expiry has passed at now.
func (k *apiKey) expired(now time.Time) bool { return !k.expires.After(now) }

// present reports whether k still shows up in the API: not deleted, and not
// expired when expired keys are configured to vanish.
func (k *apiKey) present(now time.Time, removeExpired bool) bool {
	return !k.deleted && (!removeExpired || !k.expired(now))
}

// liveKeys returns the account's keys the API would list, in creation order.
func (s *state) liveKeys(sa *serviceAccount, now time.Time, removeExpired bool) []*apiKey {
	out := make([]*apiKey, 0, len(sa.keyIDs))
	for _, id := range sa.keyIDs {
		if k := s.keys[id]; k.present(now, removeExpired) {
			out = append(out, k)
		}
	}
	return out
}

func (s *state) addKey(k *apiKey) {
	s.keys[k.id] = k
	s.keyByHash[k.hash] = k
	sa := s.accounts[k.accountID]
	sa.keyIDs = append(sa.keyIDs, k.id)
}

func (s *state) deleteKey(k *apiKey, now time.Time) {
	k.deleted, k.deletedAt = true, now
	delete(s.keyByHash, k.hash)
}

func (s *state) addLegacyToken(t *legacyToken) {
	u := s.users[t.userID]
	u.tokens[t.name] = t
	u.order = append(u.order, t.name)
	s.legacyHistory = append(s.legacyHistory, t)
	s.legacyByHash[t.hash] = t
}

func (s *state) deleteLegacyToken(t *legacyToken, now time.Time) {
	t.deleted, t.deletedAt = true, now
	u := s.users[t.userID]
	delete(u.tokens, t.name)
	for i, n := range u.order {
		if n == t.name {
			u.order = append(u.order[:i], u.order[i+1:]...)
			break
		}
	}
	if s.legacyByHash[t.hash] == t {
		delete(s.legacyByHash, t.hash)
	}
}
