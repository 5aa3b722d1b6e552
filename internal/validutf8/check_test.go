package validutf8_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
	"github.com/ztbroker/ztbroker/internal/validutf8"
)

const bad = "\xff\xfe"

func TestCheck(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		msg  proto.Message
		want string // the field named; empty when the message is valid
	}{
		{"valid", &ztbrokerv1.IssueTokenRequest{Purpose: "ci", Labels: map[string]string{"job": "é"}}, ""},
		{"empty", &ztbrokerv1.IssueTokenRequest{}, ""},
		{"string", &ztbrokerv1.IssueTokenRequest{Purpose: bad}, `"purpose"`},
		{"map value", &ztbrokerv1.IssueTokenRequest{Labels: map[string]string{"job": bad}}, `"labels"`},
		{"map key", &ztbrokerv1.IssueTokenRequest{Labels: map[string]string{bad: "x"}}, `"labels"`},
		{"nested", &ztbrokerv1.IssueTokenResponse{Lease: &ztbrokerv1.Lease{Owner: bad}}, `"lease.owner"`},
		{"nested map", &ztbrokerv1.IssueTokenResponse{Lease: &ztbrokerv1.Lease{Labels: map[string]string{"a": bad}}}, `"lease.labels"`},
		{"list of messages", &ztbrokerv1.ListLeasesResponse{Leases: []*ztbrokerv1.Lease{{Id: "ok"}, {Id: bad}}}, `"leases.id"`},
	} {
		err := validutf8.Check(tc.msg)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v, want none", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want an error naming %s", tc.name, err, tc.want)
		case err != nil && strings.Contains(err.Error(), bad):
			t.Errorf("%s: %q echoes the bytes", tc.name, err)
		}
	}
}

func TestCheckPath(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		raw  string
		want string
	}{
		{"/v1/leases?purpose=ci&label=job%3D%C3%A9", ""},
		{"/v1/purposes/%C3%A9/tokens", ""},
		{"/v1/purposes/%FF/tokens", "the path"},
		{"/v1/leases?purpose=%FF", ""},
	} {
		u, err := url.Parse(tc.raw)
		if err != nil {
			t.Fatal(err)
		}
		err = validutf8.CheckPath(u)
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: %v, want %q", tc.raw, err, tc.want)
		}
	}
}

func TestInterceptorRefusesBeforeTheHandler(t *testing.T) {
	t.Parallel()
	called := false
	handler := func(context.Context, any) (any, error) { called = true; return nil, nil }
	_, err := validutf8.UnaryServerInterceptor()(context.Background(), &ztbrokerv1.GetLeaseRequest{Id: bad}, &grpc.UnaryServerInfo{}, handler)
	if status.Code(err) != codes.InvalidArgument || called {
		t.Errorf("got %v (handler called: %v), want INVALID_ARGUMENT and no call", err, called)
	}
	if _, err := validutf8.UnaryServerInterceptor()(context.Background(), &ztbrokerv1.GetLeaseRequest{Id: "x"}, &grpc.UnaryServerInfo{}, handler); err != nil || !called {
		t.Errorf("valid request: %v (handler called: %v), want it passed on", err, called)
	}
}
