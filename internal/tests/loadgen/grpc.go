package main

import (
	"context"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
)

// grpcCycle issues a token and revokes its lease over gRPC, each client
// on its own connection, as separate services would be.
func grpcCycle() Scenario {
	return Scenario{
		Name: "grpc",
		Ops:  []string{"issue", "revoke"},
		NewClient: func(_ context.Context, t *Target) (Client, error) {
			conn, err := grpc.NewClient(t.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				return nil, err
			}
			return &grpcClient{t: t, conn: conn, tb: ztbrokerv1.NewTokenBrokerClient(conn)}, nil
		},
	}
}

type grpcClient struct {
	t    *Target
	conn *grpc.ClientConn
	tb   ztbrokerv1.TokenBrokerClient
}

func (c *grpcClient) Cycle(ctx context.Context, rec *Recorder) error {
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+c.t.APIKey)
	var issued *ztbrokerv1.IssueTokenResponse
	err := rec.Time("issue", func() (err error) {
		issued, err = c.tb.IssueToken(ctx, &ztbrokerv1.IssueTokenRequest{Purpose: c.t.Purpose})
		return err
	})
	if err != nil {
		return fmt.Errorf("issue: %w", err)
	}
	if issued.GetToken() == "" || issued.GetLease().GetState() != ztbrokerv1.Lease_STATE_ACTIVE {
		return fmt.Errorf("issue: no token or lease not active (%s)", issued.GetLease().GetState())
	}
	var revoked *ztbrokerv1.RevokeLeaseResponse
	err = rec.Time("revoke", func() (err error) {
		revoked, err = c.tb.RevokeLease(ctx, &ztbrokerv1.RevokeLeaseRequest{Id: issued.GetLease().GetId()})
		return err
	})
	if err != nil {
		return fmt.Errorf("revoke: %w", err)
	}
	if st := revoked.GetLease().GetState(); st != ztbrokerv1.Lease_STATE_REVOKED {
		return fmt.Errorf("revoke: lease %s is %s", issued.GetLease().GetId(), st)
	}
	return nil
}

func (c *grpcClient) Close() error { return c.conn.Close() }
