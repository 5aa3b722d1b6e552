package broker

import (
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
)

// TestSecretNeverLeaks runs leases through their whole life, replay and
// refusals included, and then looks for each minted secret in every audit
// event, the service's log, every error and every response but the one
// that hands the secret out.
func TestSecretNeverLeaks(t *testing.T) {
	t.Parallel()
	for _, purpose := range []string{purposeNC, purposeLegacy} {
		t.Run(purpose, func(t *testing.T) {
			t.Parallel()
			tp := &tap{}
			b := setup(t, withSealer(newSealer(t)), withTap(tp))
			var texts []string
			note := func(m proto.Message, err error) {
				t.Helper()
				if err != nil {
					texts = append(texts, err.Error())
					return
				}
				texts = append(texts, prototext.Format(m))
			}
			ctx := as(t, alice)
			req := &ztbrokerv1.IssueTokenRequest{Purpose: purpose, IdempotencyKey: "job-1", Labels: map[string]string{"job": "1"}}
			first, err := b.svc.IssueToken(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			id := first.GetLease().GetId()
			replayed, err := b.svc.IssueToken(ctx, req)
			if err != nil || replayed.GetToken() != first.GetToken() {
				t.Fatalf("replay: %v", err)
			}
			note(b.svc.GetLease(ctx, &ztbrokerv1.GetLeaseRequest{Id: id}))
			note(b.svc.ListLeases(ctx, &ztbrokerv1.ListLeasesRequest{}))
			b.clock.Advance(time.Minute)
			note(b.svc.RenewLease(ctx, &ztbrokerv1.RenewLeaseRequest{Id: id, Ttl: durationpb.New(2 * time.Hour)}))
			note(b.svc.RenewLease(ctx, &ztbrokerv1.RenewLeaseRequest{Id: id, Ttl: durationpb.New(100 * time.Hour)}))
			note(b.svc.RevokeLease(ctx, &ztbrokerv1.RevokeLeaseRequest{Id: id, Reason: "done"}))
			note(b.svc.RevokeLease(ctx, &ztbrokerv1.RevokeLeaseRequest{Id: id}))
			note(b.svc.IssueToken(ctx, req)) // the key's lease has ended
			note(b.svc.RenewLease(ctx, &ztbrokerv1.RenewLeaseRequest{Id: id}))
			note(b.svc.IssueToken(as(t, bob), &ztbrokerv1.IssueTokenRequest{Purpose: purpose}))
			note(b.svc.ListAuditEvents(as(t, root), &ztbrokerv1.ListAuditEventsRequest{}))

			secrets := tp.Secrets()
			if len(secrets) != 1 || secrets[0] != first.GetToken() {
				t.Fatalf("tapped %d secrets; want exactly the one issued", len(secrets))
			}
			if leaks := b.leaked(t, first.GetToken(), texts...); len(leaks) > 0 {
				t.Errorf("secret found in %v", leaks)
			}
			if len(b.audit(t)) < 5 {
				t.Errorf("only %d audit events: the trail searched is too thin to mean anything", len(b.audit(t)))
			}
		})
	}
}
