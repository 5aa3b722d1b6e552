package clientcmd

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
)

// issueFlags are the flags `token issue` and `exec` share.
type issueFlags struct {
	purpose string
	ttl     time.Duration
	labels  labelFlag
	key     string
}

func (f *issueFlags) register(c *command) {
	c.fs.StringVar(&f.purpose, "purpose", "", "purpose to issue a token for (required)")
	c.fs.DurationVar(&f.ttl, "ttl", 0, "lease TTL; the purpose's default when unset, capped by its maximum")
	c.fs.Var(&f.labels, "label", "lease label `key=value`, repeatable; added to the CI labels, which it overrides")
	c.fs.StringVar(&f.key, "idempotency-key", "", "key that makes a repeated issuance return the same lease\n"+
		"(default: derived from the GitHub Actions or GitLab CI job, else random per invocation)")
}

func (f *issueFlags) check() error {
	if f.purpose == "" {
		return usagef("--purpose is required")
	}
	if f.ttl < 0 {
		return usagef("--ttl must not be negative")
	}
	return nil
}

// request builds the IssueTokenRequest. It is built once per invocation, so
// every retry carries the same idempotency key; the key is returned too,
// for exec to forget once its lease has ended.
func (f *issueFlags) request(env Env) (*ztbrokerv1.IssueTokenRequest, stepKey) {
	run := detectCI(env.getenv)
	key := run.idempotencyKey(f.key, f.purpose, func(err error) {
		report(env.Stderr, "warning: ", fmt.Errorf("%w; a retry of this step will issue a new lease", err))
	})
	req := &ztbrokerv1.IssueTokenRequest{
		Purpose:        f.purpose,
		Labels:         run.withLabels(f.labels.values),
		IdempotencyKey: key.key,
	}
	if f.ttl > 0 {
		req.Ttl = durationpb.New(f.ttl)
	}
	return req, key
}

// issue asks for a token and checks that the answer carries one that can
// still be used.
func (s *session) issue(ctx context.Context, req *ztbrokerv1.IssueTokenRequest) (*ztbrokerv1.IssueTokenResponse, error) {
	ctx, cancel := s.deadline(ctx)
	defer cancel()
	resp, err := s.broker.IssueToken(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("issue token for purpose %q: %w", req.GetPurpose(), err)
	}
	l := resp.GetLease()
	switch {
	case resp.GetToken() == "" && resp.GetReplayed():
		return nil, fmt.Errorf("issue token for purpose %q: %w %q: lease %s was issued for it earlier and its token "+
			"is no longer available; pass a different --idempotency-key", req.GetPurpose(), errSpentKey, req.GetIdempotencyKey(), l.GetId())
	case resp.GetToken() == "":
		return nil, fmt.Errorf("issue token for purpose %q: the broker returned no token", req.GetPurpose())
	case l.GetState() != ztbrokerv1.Lease_STATE_ACTIVE && resp.GetReplayed():
		return nil, fmt.Errorf("issue token for purpose %q: %w %q: lease %s is already %s; pass a different --idempotency-key",
			req.GetPurpose(), errSpentKey, req.GetIdempotencyKey(), l.GetId(), stateName(l.GetState()))
	case l.GetState() != ztbrokerv1.Lease_STATE_ACTIVE:
		return nil, fmt.Errorf("issue token for purpose %q: the broker returned lease %s in state %s",
			req.GetPurpose(), l.GetId(), stateName(l.GetState()))
	}
	return resp, nil
}
