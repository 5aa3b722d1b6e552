package client

import (
	"maps"
	"time"
)

// DefaultMinValidity is how long, at least, a token from a TokenSource
// stays valid after Token returns it, unless MinValidity says otherwise.
const DefaultMinValidity = time.Minute

// SourceOption configures a TokenSource.
type SourceOption func(*sourceOptions)

type sourceOptions struct {
	ttl         time.Duration
	labels      map[string]string
	minValidity time.Duration
}

// TTL is the lease lifetime to ask for at each issue and renewal; zero (the
// default) means the purpose's default.
func TTL(d time.Duration) SourceOption { return func(o *sourceOptions) { o.ttl = d } }

// Labels are attached to every lease the source takes.
func Labels(labels map[string]string) SourceOption {
	return func(o *sourceOptions) { o.labels = maps.Clone(labels) }
}

// MinValidity is how long a token returned by Token is still valid, at
// least. A lease shorter than four times d gets a quarter of its lifetime
// instead, since a source that waits until the last moment cannot also
// renew in time. The default is DefaultMinValidity.
func MinValidity(d time.Duration) SourceOption { return func(o *sourceOptions) { o.minValidity = d } }
