package chaos

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
	"github.com/ztbroker/ztbroker/internal/testing/testproc"
)

// broker is one running broker process and clients for both of its APIs.
type broker struct {
	proc   *testproc.Proc
	conn   *grpc.ClientConn
	api    ztbrokerv1.TokenBrokerClient
	hc     *http.Client
	apiKey string
	// replaced is closed once a successor is serving, so callers
	// retrying against a dead process know when to try again.
	replaced chan struct{}
}

func (e *env) startBroker() *broker {
	e.t.Helper()
	p := testproc.StartBroker(e.t, e.configPath, e.brokerEnv...)
	conn, err := grpc.NewClient(p.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		e.t.Fatalf("grpc client: %v", err)
	}
	b := &broker{
		proc: p, conn: conn, api: ztbrokerv1.NewTokenBrokerClient(conn),
		hc:     &http.Client{Transport: &http.Transport{}},
		apiKey: e.apiKey, replaced: make(chan struct{}),
	}
	e.t.Cleanup(b.close)
	return b
}

// close drops the clients and releases callers waiting on replaced;
// closing an already closed broker does nothing.
func (b *broker) close() {
	select {
	case <-b.replaced:
		return
	default:
	}
	close(b.replaced)
	_ = b.conn.Close()
	b.hc.CloseIdleConnections()
}

func (b *broker) authed(ctx context.Context) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+b.apiKey)
}

func (b *broker) issueGRPC(ctx context.Context, purpose string, ttl time.Duration) (string, error) {
	resp, err := b.api.IssueToken(b.authed(ctx), &ztbrokerv1.IssueTokenRequest{Purpose: purpose, Ttl: durationpb.New(ttl)})
	if err != nil {
		return "", err
	}
	return resp.GetLease().GetId(), nil
}

func (b *broker) revokeGRPC(ctx context.Context, id string) error {
	_, err := b.api.RevokeLease(b.authed(ctx), &ztbrokerv1.RevokeLeaseRequest{Id: id, Reason: "chaos"})
	return err
}

// issueREST returns the lease id, or the HTTP status when it is not 200.
func (b *broker) issueREST(ctx context.Context, purpose string, ttl time.Duration) (string, int, error) {
	body := fmt.Sprintf(`{"ttl":%q}`, fmt.Sprintf("%gs", ttl.Seconds()))
	var resp ztbrokerv1.IssueTokenResponse
	status, err := b.rest(ctx, "/v1/purposes/"+purpose+"/tokens", body, &resp)
	return resp.GetLease().GetId(), status, err
}

func (b *broker) revokeREST(ctx context.Context, id string) (int, error) {
	var resp ztbrokerv1.RevokeLeaseResponse
	return b.rest(ctx, "/v1/leases/"+id+":revoke", `{"reason":"chaos"}`, &resp)
}

func (b *broker) rest(ctx context.Context, path, body string, out proto.Message) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+b.proc.HTTPAddr+path, bytes.NewBufferString(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+b.apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, fmt.Errorf("POST %s: HTTP %d", path, resp.StatusCode)
	}
	return resp.StatusCode, protojson.Unmarshal(raw, out)
}

// issue picks the API by viaREST so load exercises both.
func (b *broker) issue(ctx context.Context, viaREST bool, purpose string, ttl time.Duration) (string, error) {
	if viaREST {
		id, _, err := b.issueREST(ctx, purpose, ttl)
		return id, err
	}
	return b.issueGRPC(ctx, purpose, ttl)
}

func (b *broker) revoke(ctx context.Context, viaREST bool, id string) error {
	if viaREST {
		_, err := b.revokeREST(ctx, id)
		return err
	}
	return b.revokeGRPC(ctx, id)
}
