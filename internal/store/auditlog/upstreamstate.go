package auditlog

import (
	"context"

	"github.com/ztbroker/ztbroker/internal/store"
)

// Upstream state. The rotation's transitions and a first sighting commit
// the event in their params and log it on success; the rest take none.

func (s *Store) DropCredential(ctx context.Context, p store.DropCredentialParams) error {
	err := s.inner.DropCredential(ctx, p)
	if err == nil {
		s.emit(ctx, p.Audit, nil)
	}
	return err
}

func (s *Store) StartRotation(ctx context.Context, p store.StartRotationParams) (*store.Rotation, error) {
	r, err := s.inner.StartRotation(ctx, p)
	if err == nil {
		s.emit(ctx, p.Audit, nil)
	}
	return r, err
}

func (s *Store) SwitchRotation(ctx context.Context, p store.SwitchRotationParams) (*store.Rotation, error) {
	r, err := s.inner.SwitchRotation(ctx, p)
	if err == nil {
		s.emit(ctx, p.Audit, nil)
	}
	return r, err
}

func (s *Store) FinishRotation(ctx context.Context, p store.FinishRotationParams) (*store.Rotation, error) {
	r, err := s.inner.FinishRotation(ctx, p)
	if err == nil {
		s.emit(ctx, p.Audit, nil)
	}
	return r, err
}

// RecordSighting logs only a first sighting: a repeat wrote no event.
func (s *Store) RecordSighting(ctx context.Context, p store.RecordSightingParams) (bool, error) {
	first, err := s.inner.RecordSighting(ctx, p)
	if err == nil && first {
		s.emit(ctx, p.Audit, nil)
	}
	return first, err
}

func (s *Store) CurrentCredential(ctx context.Context, p store.CurrentCredentialParams) (*store.UpstreamCredential, error) {
	return s.inner.CurrentCredential(ctx, p)
}

func (s *Store) RotationLock(ctx context.Context, p store.RotationLockParams, fn func(context.Context) error) (bool, error) {
	return s.inner.RotationLock(ctx, p, fn)
}

// RecordRotationKey stores the sealed key; its event is the switch's.
func (s *Store) RecordRotationKey(ctx context.Context, p store.RecordRotationKeyParams) (*store.Rotation, error) {
	return s.inner.RecordRotationKey(ctx, p)
}

func (s *Store) OpenRotation(ctx context.Context, p store.OpenRotationParams) (*store.Rotation, error) {
	return s.inner.OpenRotation(ctx, p)
}

func (s *Store) GetRotation(ctx context.Context, p store.GetRotationParams) (*store.Rotation, error) {
	return s.inner.GetRotation(ctx, p)
}

func (s *Store) CountSightings(ctx context.Context, p store.CountSightingsParams) (int, error) {
	return s.inner.CountSightings(ctx, p)
}

func (s *Store) LeasesActiveBetween(ctx context.Context, p store.LeasesActiveBetweenParams) ([]string, error) {
	return s.inner.LeasesActiveBetween(ctx, p)
}
