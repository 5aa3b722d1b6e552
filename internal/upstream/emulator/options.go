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
	// DefaultAdminKeyLifetime is how long the seeded admin key lives from
	// the emulator's start (or reset): ZeroTier's guide recommends keys
	// that expire, and a month is a common choice.
	DefaultAdminKeyLifetime = 30 * 24 * time.Hour
	// DefaultAdminKeyDescription describes the seeded admin key.
	DefaultAdminKeyDescription = "emulator admin key"
	// DefaultLegacyAdminTokenName names the seeded Legacy admin token.
	DefaultLegacyAdminTokenName = "emulator-admin"
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

	adminAccount         string
	adminKeyLifetime     time.Duration
	adminKeyDescription  string
	legacyAdminTokenName string
	unknownRouteStatus   int
	throttleHeaders      string
	clockOffset          time.Duration
	noLastUsed           bool
	networks             []NetworkSeed
}

// Option configures a Server.
type Option func(*config)

// WithAdminToken sets the emulator's control token, which drives the
// /_emulator/ API, and seeds the same secret as an ordinary credential on
// each API, as a real admin credential is: a New Central key in the admin
// service account's apiKeys[] with an expiry, and a Legacy token on the
// first user. Like any key, those stop working when they expire or are
// deleted; the control token never does.
func WithAdminToken(token string) Option { return func(c *config) { c.adminToken = token } }

// WithAdminServiceAccount puts the seeded admin key on service account id
// (created if not seeded otherwise) instead of the first one.
func WithAdminServiceAccount(id string) Option { return func(c *config) { c.adminAccount = id } }

// WithAdminKeyLifetime sets how long after start the seeded admin key
// expires; it may be negative, for a key that has already expired.
func WithAdminKeyLifetime(d time.Duration) Option { return func(c *config) { c.adminKeyLifetime = d } }

// WithAdminKeyDescription sets the seeded admin key's description.
func WithAdminKeyDescription(desc string) Option {
	return func(c *config) { c.adminKeyDescription = desc }
}

// WithLegacyAdminTokenName names the seeded Legacy admin token.
func WithLegacyAdminTokenName(name string) Option {
	return func(c *config) { c.legacyAdminTokenName = name }
}

// WithUnknownRouteStatus sets what a request no route matches gets: 404
// (default), with a {"message": …} body as Central answers, or 501, which
// makes a client's wrong path obvious in a test.
func WithUnknownRouteStatus(status int) Option {
	return func(c *config) { c.unknownRouteStatus = status }
}

// WithThrottleHeaders sets which headers a 429 carries: ThrottleReset
// (default; X-Ratelimit-Limit, -Remaining and -Reset as an HTTP date, what
// Central was seen to send), ThrottleBoth (Retry-After too) or
// ThrottleRetryAfter. No source shows Central sending Retry-After.
func WithThrottleHeaders(style string) Option { return func(c *config) { c.throttleHeaders = style } }

// WithClockOffset puts the emulator's clock d ahead of the configured
// clock (behind, when negative): expiries are judged and the Date header
// written on it, as on a Central whose clock differs from the broker's.
func WithClockOffset(d time.Duration) Option { return func(c *config) { c.clockOffset = d } }

// WithLastUsed sets whether a key's lastUsed is stamped on every request
// (default) or never: whether Central updates it live is not documented.
func WithLastUsed(live bool) Option { return func(c *config) { c.noLastUsed = !live } }

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
		adminKeyLifetime:    DefaultAdminKeyLifetime,
		adminKeyDescription: DefaultAdminKeyDescription,
		unknownRouteStatus:  404,
		throttleHeaders:     ThrottleReset,
	}
	for _, o := range opts {
		o(&c)
	}
	if c.adminAccount == "" && len(c.serviceAccounts) > 0 {
		c.adminAccount = c.serviceAccounts[0]
	}
	if c.legacyAdminTokenName == "" {
		c.legacyAdminTokenName = DefaultLegacyAdminTokenName
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
	if c.unknownRouteStatus != 404 && c.unknownRouteStatus != 501 {
		return fmt.Errorf("emulator: unknown-route status must be 404 or 501, not %d", c.unknownRouteStatus)
	}
	switch c.throttleHeaders {
	case ThrottleBoth, ThrottleRetryAfter, ThrottleReset:
	default:
		return fmt.Errorf("emulator: throttle headers must be %q, %q or %q", ThrottleReset, ThrottleBoth, ThrottleRetryAfter)
	}
	if c.adminAccount == "" {
		return fmt.Errorf("emulator: the admin key needs a service account")
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
