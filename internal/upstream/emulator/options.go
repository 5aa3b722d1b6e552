package emulator

import (
	"fmt"
	"io"
	"time"
)

// Defaults for a Server with no options.
const (
	DefaultOrgID          = "emu0rg0000000001"
	DefaultOrgName        = "Emulated Org"
	DefaultServiceAccount = "sa-emulator"
	DefaultLegacyUser     = "00000000-0000-4000-8000-00000000e001"
)

type config struct {
	adminToken          string
	orgID, orgName      string
	serviceAccounts     []string
	legacyUsers         []string
	now                 func() time.Time
	deleteMissingStatus int
	removeExpired       bool
	rateLimit           float64
	faults              map[string]Fault
	seed                uint64
	seeded              bool
	rand                io.Reader
	networks            []NetworkSeed
}

// Option configures a Server.
type Option func(*config)

// WithAdminToken sets the credential that may do everything on both APIs
// and on the admin API.
func WithAdminToken(token string) Option { return func(c *config) { c.adminToken = token } }

// WithOrg sets the org that GET /api/v2/org returns.
func WithOrg(id, name string) Option { return func(c *config) { c.orgID, c.orgName = id, name } }

// WithServiceAccounts replaces the pre-seeded New Central service accounts.
func WithServiceAccounts(ids ...string) Option {
	return func(c *config) { c.serviceAccounts = append([]string(nil), ids...) }
}

// WithLegacyUsers replaces the pre-seeded Legacy users. The first is the
// user GET /api/v1/status reports for the admin credential.
func WithLegacyUsers(ids ...string) Option {
	return func(c *config) { c.legacyUsers = append([]string(nil), ids...) }
}

// WithClock sets the clock that decides expiry and fills timestamps.
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// WithDeleteMissingStatus sets what deleting or reading a missing New
// Central key answers: 404 (default) or 403, both with a JSON message.
func WithDeleteMissingStatus(status int) Option {
	return func(c *config) { c.deleteMissingStatus = status }
}

// WithRemoveExpiredKeys makes expired New Central keys disappear from
// listings and act as deleted, instead of lingering until deleted.
func WithRemoveExpiredKeys(remove bool) Option { return func(c *config) { c.removeExpired = remove } }

// WithRateLimit answers 429 to requests beyond perSecond, across all API
// routes. Zero means no limit.
func WithRateLimit(perSecond float64) Option { return func(c *config) { c.rateLimit = perSecond } }

// WithFault injects f on route (a Route* constant, or "*" for every route).
func WithFault(route string, f Fault) Option {
	return func(c *config) {
		if c.faults == nil {
			c.faults = map[string]Fault{}
		}
		c.faults[route] = f
	}
}

// WithSeed fixes the randomness behind fault error rates.
func WithSeed(seed uint64) Option { return func(c *config) { c.seed, c.seeded = seed, true } }

// WithRand sets the source of generated keys and ids; nil is crypto/rand.
func WithRand(r io.Reader) Option { return func(c *config) { c.rand = r } }

func buildConfig(opts []Option) config {
	c := config{
		orgID: DefaultOrgID, orgName: DefaultOrgName,
		serviceAccounts:     []string{DefaultServiceAccount},
		legacyUsers:         []string{DefaultLegacyUser},
		now:                 time.Now,
		deleteMissingStatus: 404,
	}
	for _, o := range opts {
		o(&c)
	}
	return c
}

func (c *config) validate() error {
	if c.adminToken == "" {
		return fmt.Errorf("emulator: an admin token is required")
	}
	if c.deleteMissingStatus != 404 && c.deleteMissingStatus != 403 {
		return fmt.Errorf("emulator: delete-missing status must be 404 or 403, not %d", c.deleteMissingStatus)
	}
	if c.rateLimit < 0 {
		return fmt.Errorf("emulator: rate limit must not be negative")
	}
	for _, n := range c.networks {
		if err := n.validate(); err != nil {
			return err
		}
	}
	for route, f := range c.faults {
		if err := checkRoute(route); err != nil {
			return err
		}
		if err := f.validate(); err != nil {
			return fmt.Errorf("emulator: fault on %s: %w", route, err)
		}
	}
	return nil
}

// AdminTokenOf returns the admin token that opts configure, for a harness
// that must hand it to clients: the server itself forgets it once hashed.
func AdminTokenOf(opts ...Option) string { return buildConfig(opts).adminToken }

// AdminTokenEnv is where "broker emulator" reads its admin token when no
// flag gives it, so the credential need not appear in a process listing.
const AdminTokenEnv = "ZTBROKER_EMULATOR_ADMIN_TOKEN"
