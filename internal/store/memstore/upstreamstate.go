package memstore

import (
	"context"
	"fmt"
	"slices"

	"github.com/ztbroker/ztbroker/internal/errs"
	"github.com/ztbroker/ztbroker/internal/store"
)

// upstreamState is the in-memory store.UpstreamState, guarded by Store.mu.
type upstreamState struct {
	creds     map[string]store.UpstreamCredential
	rotations map[string]*store.Rotation
	sightings map[sightingKey]bool
	locked    map[string]bool
}

type sightingKey struct{ upstream, kind, account, id string }

func newUpstreamState() upstreamState {
	return upstreamState{
		creds: map[string]store.UpstreamCredential{}, rotations: map[string]*store.Rotation{},
		sightings: map[sightingKey]bool{}, locked: map[string]bool{},
	}
}

func cloneRotation(r *store.Rotation) *store.Rotation {
	c := *r
	c.NewSealed = slices.Clone(r.NewSealed)
	return &c
}

func (s *Store) CurrentCredential(_ context.Context, p store.CurrentCredentialParams) (*store.UpstreamCredential, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.upstream.creds[p.Upstream]
	if !ok {
		return nil, fmt.Errorf("memstore: current credential of %s: %w", p.Upstream, errs.NotFound)
	}
	c.Sealed = slices.Clone(c.Sealed)
	return &c, nil
}

func (s *Store) DropCredential(_ context.Context, p store.DropCredentialParams) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.upstream.creds[p.Upstream]
	if !ok || c.KeyID != p.KeyID {
		return fmt.Errorf("memstore: drop credential %s of %s: %w", p.KeyID, p.Upstream, errs.NotFound)
	}
	delete(s.upstream.creds, p.Upstream)
	if p.Audit != nil {
		s.appendAudit(p.Audit, p.Audit.Time)
	}
	return nil
}

// RotationLock is exclusive within this process, which is all a memory
// store serves.
func (s *Store) RotationLock(ctx context.Context, p store.RotationLockParams, fn func(context.Context) error) (bool, error) {
	s.mu.Lock()
	if s.upstream.locked[p.Upstream] {
		s.mu.Unlock()
		return false, nil
	}
	s.upstream.locked[p.Upstream] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.upstream.locked, p.Upstream)
		s.mu.Unlock()
	}()
	return true, fn(ctx)
}

func (s *Store) StartRotation(_ context.Context, p store.StartRotationParams) (*store.Rotation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.upstream.rotations[p.ID]; dup {
		return nil, fmt.Errorf("memstore: rotation %s: %w", p.ID, errs.AlreadyExists)
	}
	if s.openRotationLocked(p.Upstream) != nil {
		return nil, fmt.Errorf("memstore: rotation of %s already open: %w", p.Upstream, errs.AlreadyExists)
	}
	r := &store.Rotation{
		ID: p.ID, Upstream: p.Upstream, State: store.RotationStarted, Account: p.Account, Description: p.Description,
		OldKeyID: p.OldKeyID, OldSHA256: p.OldSHA256, RequestedBy: p.RequestedBy, Reason: p.Reason,
		StartedAt: ts(p.Now),
	}
	s.upstream.rotations[r.ID] = r
	if p.Audit != nil {
		s.appendAudit(p.Audit, p.Now)
	}
	return cloneRotation(r), nil
}

func (s *Store) openRotationLocked(upstream string) *store.Rotation {
	for _, r := range s.upstream.rotations {
		if r.Upstream == upstream && r.State.Open() {
			return r
		}
	}
	return nil
}

// rotationIn finds rotation id in one of states, or explains why not.
func (s *Store) rotationIn(id, op string, states ...store.RotationState) (*store.Rotation, error) {
	r, ok := s.upstream.rotations[id]
	if !ok {
		return nil, fmt.Errorf("memstore: %s rotation %s: %w", op, id, errs.NotFound)
	}
	if !slices.Contains(states, r.State) {
		return nil, fmt.Errorf("memstore: %s rotation %s in state %s: %w", op, id, r.State, errs.Conflict)
	}
	return r, nil
}

func (s *Store) RecordRotationKey(_ context.Context, p store.RecordRotationKeyParams) (*store.Rotation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.rotationIn(p.ID, "record key of", store.RotationStarted)
	if err != nil {
		return nil, err
	}
	r.State, r.NewKeyID, r.NewSHA256 = store.RotationMinted, p.NewKeyID, p.NewSHA256
	r.NewSealed, r.NewExpires, r.MintedAt = slices.Clone(p.Sealed), ts(p.Expires), ts(p.Now)
	return cloneRotation(r), nil
}

func (s *Store) SwitchRotation(_ context.Context, p store.SwitchRotationParams) (*store.Rotation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.rotationIn(p.ID, "switch", store.RotationMinted)
	if err != nil {
		return nil, err
	}
	s.upstream.creds[r.Upstream] = store.UpstreamCredential{
		Upstream: r.Upstream, KeyID: r.NewKeyID, Account: r.Account, SHA256: r.NewSHA256,
		ConfigSHA256: p.ConfigSHA256, Sealed: r.NewSealed, Expires: r.NewExpires, RotationID: r.ID, UpdatedAt: ts(p.Now),
	}
	r.State, r.NewSealed, r.SwitchedAt, r.RetireAfter = store.RotationSwitched, nil, ts(p.Now), ts(p.RetireAfter)
	if p.Audit != nil {
		s.appendAudit(p.Audit, p.Now)
	}
	return cloneRotation(r), nil
}

func (s *Store) FinishRotation(_ context.Context, p store.FinishRotationParams) (*store.Rotation, error) {
	if p.State != store.RotationDone && p.State != store.RotationFailed {
		return nil, fmt.Errorf("memstore: finish rotation %s as %q: %w", p.ID, p.State, errs.InvalidArgument)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.rotationIn(p.ID, "finish", store.RotationStarted, store.RotationMinted, store.RotationSwitched)
	if err != nil {
		return nil, err
	}
	if p.State == store.RotationDone && r.NewKeyID == "" {
		return nil, fmt.Errorf("memstore: finish rotation %s as done without a key: %w", p.ID, errs.InvalidArgument)
	}
	r.State, r.Error, r.FinishedAt, r.NewSealed = p.State, p.Error, ts(p.Now), nil
	if p.Audit != nil {
		s.appendAudit(p.Audit, p.Now)
	}
	return cloneRotation(r), nil
}

func (s *Store) OpenRotation(_ context.Context, p store.OpenRotationParams) (*store.Rotation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.openRotationLocked(p.Upstream)
	if r == nil {
		return nil, fmt.Errorf("memstore: open rotation of %s: %w", p.Upstream, errs.NotFound)
	}
	return cloneRotation(r), nil
}

func (s *Store) GetRotation(_ context.Context, p store.GetRotationParams) (*store.Rotation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.upstream.rotations[p.ID]
	if !ok {
		return nil, fmt.Errorf("memstore: rotation %s: %w", p.ID, errs.NotFound)
	}
	return cloneRotation(r), nil
}

func (s *Store) RecordSighting(_ context.Context, p store.RecordSightingParams) (bool, error) {
	if p.Kind != store.SightingKey && p.Kind != store.SightingServiceAccount {
		return false, fmt.Errorf("memstore: sighting kind %q: %w", p.Kind, errs.InvalidArgument)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := sightingKey{p.Upstream, p.Kind, p.Account, p.ID}
	if s.upstream.sightings[k] {
		return false, nil
	}
	s.upstream.sightings[k] = true
	if p.Audit != nil {
		s.appendAudit(p.Audit, p.Now)
	}
	return true, nil
}

func (s *Store) CountSightings(_ context.Context, p store.CountSightingsParams) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k := range s.upstream.sightings {
		if k.upstream == p.Upstream && k.kind == p.Kind {
			n++
		}
	}
	return n, nil
}

func (s *Store) LeasesActiveBetween(_ context.Context, p store.LeasesActiveBetweenParams) ([]string, error) {
	if err := requireLimit(p.Limit); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for _, l := range s.leases {
		if l.Upstream != p.Upstream || (p.UpstreamAccount != "" && l.UpstreamAccount != p.UpstreamAccount) || l.State == "failed" {
			continue
		}
		if l.IssueTime.After(p.To) || (!l.RevokeTime.IsZero() && l.RevokeTime.Before(p.From)) {
			continue
		}
		ids = append(ids, l.ID)
	}
	slices.Sort(ids)
	if len(ids) > p.Limit {
		ids = ids[:p.Limit]
	}
	return ids, nil
}
