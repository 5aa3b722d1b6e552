// Package proxy is the HTTP door through which proxy leases use ZeroTier
// Central: /zt/<purpose>/api/v1/... or /zt/<purpose>/api/v2/..., the same
// paths a caller would use on Central, authenticated with the lease's
// broker credential (Authorization: Bearer or token).
//
// For every call it reads the lease from PostgreSQL by the credential's
// SHA-256 (one indexed row), so a revoke or an expiry is refused on the
// very next call on every replica, whatever the revoker's lag. It then
// asks the purpose's scope whether the call is allowed, takes a token from
// the purpose's share of the upstream's rate limit (429 with Retry-After
// from the broker when it is spent), and forwards the checked call with the
// purpose's own upstream credential, queued behind the broker's minting
// and revoking on the upstream's shared limiter.
//
// # Why the broker's credential, not one minted per lease
//
// A proxy lease has no upstream token. Forwarding with a key minted per
// lease would mean keeping that key (sealed, so every replica could
// forward with it) for the lease's life, a mint and a delete per lease
// against the upstream's rate limit, and a second credential to revoke
// and reconcile; and it would buy nothing, since the broker decides every
// call anyway. Forwarding with the purpose's own credential keeps the
// upstream secret in one place (the broker's configuration) and ends a
// lease by a row update. Attribution comes from the broker, which records
// the lease, caller, operation, resources, status and latency of every
// call: an audit event for each call that changes something, a sampled
// one (with the count of calls it stands for) for reads and refusals, and
// metrics for all.
//
// # What is forwarded
//
// Only the method, the canonical path built from the matched operation,
// the allowed query, the canonical body, Accept and Content-Type, and the
// broker's own Authorization: no header of the caller's reaches Central.
// Central's status and body come back as they are (error bodies
// included) with Content-Type and the rate-limit headers; every other
// header, hop-by-hop ones included, stays behind. List responses are
// filtered to the scope's allowlists; one that cannot be filtered is not
// shown (502). Bodies are bounded both ways, and a response that would
// carry the upstream secret is cut off. A caller hanging up cancels the
// upstream call.
package proxy
