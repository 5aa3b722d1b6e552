package store

import (
	"context"
	"time"
)

// UpstreamState is what the broker keeps about each upstream beyond its
// leases: the admin credential it rotated to, the rotations themselves,
// and the credentials and service accounts it has seen appear there. The
// upstream is named by the name metrics and audit events use, so the
// tables serve any number of named upstreams.
type UpstreamState interface {
	// CurrentCredential returns the admin key the broker rotated to on
	// upstream, or errs.NotFound while it uses its configured one.
	CurrentCredential(ctx context.Context, p CurrentCredentialParams) (*UpstreamCredential, error)
	// DropCredential forgets the stored credential of upstream if it is
	// still KeyID, because the configuration now names a newer one.
	// errs.NotFound when it is not (already dropped, or rotated again).
	DropCredential(ctx context.Context, p DropCredentialParams) error

	// RotationLock runs fn while holding upstream's rotation lock, which
	// one replica at a time can hold; fn's context ends if the lock is
	// lost. When another replica holds it, RotationLock returns ok=false
	// at once without calling fn.
	RotationLock(ctx context.Context, p RotationLockParams, fn func(context.Context) error) (ok bool, err error)
	// StartRotation records the intent to rotate (state started) before
	// anything is minted. errs.AlreadyExists while another rotation of the
	// upstream is open.
	StartRotation(ctx context.Context, p StartRotationParams) (*Rotation, error)
	// RecordRotationKey stores the new key, sealed, on a started rotation
	// (state minted). errs.Conflict in any other state.
	RecordRotationKey(ctx context.Context, p RecordRotationKeyParams) (*Rotation, error)
	// SwitchRotation makes the minted key the upstream's current
	// credential and moves the rotation to switched, in one transaction;
	// the old key may be deleted after RetireAfter. errs.Conflict unless
	// minted.
	SwitchRotation(ctx context.Context, p SwitchRotationParams) (*Rotation, error)
	// FinishRotation closes an open rotation as done or failed and erases
	// any sealed key it still holds. errs.Conflict if it is closed.
	FinishRotation(ctx context.Context, p FinishRotationParams) (*Rotation, error)
	// OpenRotation returns upstream's open rotation, or errs.NotFound.
	OpenRotation(ctx context.Context, p OpenRotationParams) (*Rotation, error)
	// GetRotation returns a rotation by id, or errs.NotFound.
	GetRotation(ctx context.Context, p GetRotationParams) (*Rotation, error)

	// RecordSighting remembers a credential or service account seen
	// upstream and reports whether this was its first sighting, across
	// replicas and restarts; Audit is appended only then, in the same
	// transaction.
	RecordSighting(ctx context.Context, p RecordSightingParams) (first bool, err error)
	// CountSightings counts what was recorded for an upstream and kind.
	CountSightings(ctx context.Context, p CountSightingsParams) (int, error)
	// LeasesActiveBetween returns the ids of up to Limit leases on the
	// account that were live at some time in [From, To], oldest first:
	// the suspects when a credential appears there.
	LeasesActiveBetween(ctx context.Context, p LeasesActiveBetweenParams) ([]string, error)
}

// UpstreamCredential is an admin key the broker rotated to. Sealed is the
// key sealed with the seal key; the store never sees it in clear.
type UpstreamCredential struct {
	Upstream string
	KeyID    string
	Account  string
	SHA256   string
	// ConfigSHA256 is the hash of the configured key the rotations
	// started from: while the configuration names it (or this key), this
	// key is the one to use.
	ConfigSHA256 string
	Sealed       []byte
	Expires      time.Time
	RotationID   string
	UpdatedAt    time.Time
}

// RotationState is where a rotation is.
type RotationState string

// Rotation states, in order. started: the intent is recorded, a key may or
// may not exist upstream. minted: the new key exists and is stored
// sealed. switched: every replica is moving to it; the old key is deleted
// after the grace period. done and failed are final.
const (
	RotationStarted  RotationState = "started"
	RotationMinted   RotationState = "minted"
	RotationSwitched RotationState = "switched"
	RotationDone     RotationState = "done"
	RotationFailed   RotationState = "failed"
)

// Open reports whether a rotation in state s still has work to do.
func (s RotationState) Open() bool {
	return s == RotationStarted || s == RotationMinted || s == RotationSwitched
}

// Rotation is one rotation of an upstream's admin key.
type Rotation struct {
	ID       string
	Upstream string
	State    RotationState
	// Account is the service account the new key is minted on;
	// Description the new key's description, by which a key minted
	// before a crash is found again.
	Account     string
	Description string
	OldKeyID    string
	OldSHA256   string
	NewKeyID    string
	NewSHA256   string
	// NewSealed is the new key, sealed, while minted and not yet switched.
	NewSealed   []byte
	NewExpires  time.Time
	RequestedBy string
	Reason      string
	Error       string
	StartedAt   time.Time
	MintedAt    time.Time
	SwitchedAt  time.Time
	RetireAfter time.Time
	FinishedAt  time.Time
}

type CurrentCredentialParams struct {
	Upstream string
}

type DropCredentialParams struct {
	Upstream string
	KeyID    string
	Audit    *AuditEvent
}

type RotationLockParams struct {
	Upstream string
}

type StartRotationParams struct {
	ID          string
	Upstream    string
	Account     string
	Description string
	OldKeyID    string
	OldSHA256   string
	RequestedBy string
	Reason      string
	Now         time.Time
	Audit       *AuditEvent
}

type RecordRotationKeyParams struct {
	ID        string
	NewKeyID  string
	NewSHA256 string
	// Sealed is ciphertext; the store never sees a plaintext key.
	Sealed  []byte
	Expires time.Time
	Now     time.Time
}

type SwitchRotationParams struct {
	ID string
	// ConfigSHA256 is the hash of the configured key the rotations
	// started from (see UpstreamCredential).
	ConfigSHA256 string
	RetireAfter  time.Time
	Now          time.Time
	Audit        *AuditEvent
}

type FinishRotationParams struct {
	ID    string
	State RotationState // RotationDone or RotationFailed
	// Error is a client-safe reason for a failure.
	Error string
	Now   time.Time
	Audit *AuditEvent
}

type OpenRotationParams struct {
	Upstream string
}

type GetRotationParams struct {
	ID string
}

// What a sighting is of.
const (
	SightingKey            = "key"
	SightingServiceAccount = "service_account"
)

type RecordSightingParams struct {
	Upstream string
	Kind     string // SightingKey or SightingServiceAccount
	// Account holds the key (service account or Legacy user); empty for
	// a service account.
	Account string
	ID      string
	// Created is the upstream's creation time, zero when unknown.
	Created time.Time
	Now     time.Time
	Audit   *AuditEvent
}

type CountSightingsParams struct {
	Upstream string
	Kind     string
}

type LeasesActiveBetweenParams struct {
	Upstream string
	// UpstreamAccount limits the search to one account; empty means all
	// of the upstream's (a New Central key may act on any account).
	UpstreamAccount string
	From, To        time.Time
	Limit           int
}
