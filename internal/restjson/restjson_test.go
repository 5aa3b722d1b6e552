package restjson_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/grpc-ecosystem/grpc-gateway/v2/utilities"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
	"github.com/ztbroker/ztbroker/internal/apidocs"
	"github.com/ztbroker/ztbroker/internal/restjson"
)

func TestDurationsInEitherForm(t *testing.T) {
	t.Parallel()
	tests := map[string]time.Duration{
		`"900s"`:         15 * time.Minute,
		`"15m"`:          15 * time.Minute,
		`"1h30m"`:        90 * time.Minute,
		`"1.5s"`:         1500 * time.Millisecond,
		`"0.000000001s"`: time.Nanosecond,
		`"2h0m0.25s"`:    2*time.Hour + 250*time.Millisecond,
		`"-1m"`:          -time.Minute, // the service refuses it, with its own message
	}
	for in, want := range tests {
		t.Run(in, func(t *testing.T) {
			t.Parallel()
			var got ztbrokerv1.IssueTokenRequest
			if err := restjson.New().Unmarshal([]byte(`{"purpose":"p","ttl":`+in+`}`), &got); err != nil {
				t.Fatalf("unmarshal: %v", err)
			}
			if got.GetTtl().AsDuration() != want {
				t.Errorf("ttl = %v, want %v", got.GetTtl().AsDuration(), want)
			}
		})
	}
	var renew ztbrokerv1.RenewLeaseRequest
	if err := restjson.New().Unmarshal([]byte(`{"id":"l1","ttl":"45m"}`), &renew); err != nil {
		t.Fatal(err)
	}
	want := &ztbrokerv1.RenewLeaseRequest{Id: "l1", Ttl: durationpb.New(45 * time.Minute)}
	if diff := cmp.Diff(want, &renew, protocmp.Transform()); diff != "" {
		t.Errorf("renew (-want +got):\n%s", diff)
	}
}

// TestRefusalsAreFixedAndNameTheField holds the exact message for each
// kind of bad body: none carries parser text or more of the input than a
// field name.
func TestRefusalsAreFixedAndNameTheField(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		msg  proto.Message
		body string
		want string
	}{
		{"malformed", &ztbrokerv1.IssueTokenRequest{}, `{bad`, "invalid request body: not valid JSON"},
		{"truncated", &ztbrokerv1.IssueTokenRequest{}, `{"ttl": `, "invalid request body: not valid JSON"},
		{"two values", &ztbrokerv1.IssueTokenRequest{}, `{} {}`, "invalid request body: more than one JSON value"},
		{"invalid utf-8", &ztbrokerv1.IssueTokenRequest{}, "{\"labels\": {\"job\": \"\xff\xfe\"}}", "invalid request body: not valid UTF-8"},
		{"not an object", &ztbrokerv1.IssueTokenRequest{}, `[1]`, `invalid request body: field "(body)" must be a JSON object`},
		{"unknown field", &ztbrokerv1.IssueTokenRequest{}, `{"nope": 1}`, `invalid request body: unknown field "nope"`},
		{"long unknown field", &ztbrokerv1.IssueTokenRequest{}, `{"` + strings.Repeat("x", 100) + `": 1}`,
			`invalid request body: unknown field "` + strings.Repeat("x", 64) + `..."`},
		{"ttl a number", &ztbrokerv1.IssueTokenRequest{}, `{"ttl": 5}`,
			`invalid request body: field "ttl" must be a duration such as "900s", "15m" or "1h30m"`},
		{"ttl gibberish", &ztbrokerv1.IssueTokenRequest{}, `{"ttl": "soon"}`,
			`invalid request body: field "ttl" must be a duration such as "900s", "15m" or "1h30m"`},
		{"ttl out of range", &ztbrokerv1.IssueTokenRequest{}, `{"ttl": "9999999999h"}`,
			`invalid request body: field "ttl" must be a duration such as "900s", "15m" or "1h30m"`},
		{"purpose a number", &ztbrokerv1.IssueTokenRequest{}, `{"purpose": 7}`, `invalid request body: field "purpose" must be a string`},
		{"labels a list", &ztbrokerv1.IssueTokenRequest{}, `{"labels": ["a"]}`, `invalid request body: field "labels" must be a JSON object`},
		{"label value a number", &ztbrokerv1.IssueTokenRequest{}, `{"labels": {"a": 1}}`,
			`invalid request body: field "labels" must be an object of a string`},
		{"nested unknown", &ztbrokerv1.RevokeLeasesRequest{}, `{"filter": {"purpose": "p", "colour": "red"}}`,
			`invalid request body: unknown field "filter.colour"`},
		{"nested wrong type", &ztbrokerv1.RevokeLeasesRequest{}, `{"filter": {"all": "yes"}}`,
			`invalid request body: field "filter.all" must be true or false`},
		{"int out of range", &ztbrokerv1.RevokeLeasesRequest{}, `{"batch_size": 99999999999}`,
			`invalid request body: field "batch_size" must be a 32-bit integer`},
		{"int a fraction", &ztbrokerv1.RevokeLeasesRequest{}, `{"batchSize": 1.5}`,
			`invalid request body: field "batch_size" must be a 32-bit integer`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := restjson.New().Unmarshal([]byte(tc.body), tc.msg)
			if err == nil {
				t.Fatalf("accepted %s", tc.body)
			}
			if err.Error() != tc.want {
				t.Errorf("message\n got %q\nwant %q", err.Error(), tc.want)
			}
		})
	}
}

func TestBothFieldNamesAndSnakeCaseOut(t *testing.T) {
	t.Parallel()
	m := restjson.New()
	var a, b ztbrokerv1.IssueTokenRequest
	if err := m.Unmarshal([]byte(`{"idempotency_key":"k"}`), &a); err != nil {
		t.Fatal(err)
	}
	if err := m.Unmarshal([]byte(`{"idempotencyKey":"k"}`), &b); err != nil {
		t.Fatal(err)
	}
	if a.GetIdempotencyKey() != "k" || b.GetIdempotencyKey() != "k" {
		t.Errorf("keys %q and %q, want k twice", a.GetIdempotencyKey(), b.GetIdempotencyKey())
	}
	out, err := m.Marshal(&ztbrokerv1.IssueTokenResponse{ApiBaseUrl: "u", AuthScheme: "Bearer"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `"api_base_url"`) || strings.Contains(string(out), "apiBaseUrl") {
		t.Errorf("answer %s is not snake_case", out)
	}
}

func TestQueryParameters(t *testing.T) {
	t.Parallel()
	var req ztbrokerv1.ListLeasesRequest
	err := restjson.QueryParser{}.Parse(&req, url.Values{"page_size": {"abc"}, "purpose": {"p"}}, utilities.NewDoubleArray(nil))
	if err == nil || err.Error() != `invalid query parameter "page_size"` {
		t.Errorf("err = %v, want the fixed refusal naming page_size", err)
	}
	req = ztbrokerv1.ListLeasesRequest{}
	err = restjson.QueryParser{}.Parse(&req, url.Values{"label": {"job=\xff"}}, utilities.NewDoubleArray(nil))
	if err == nil || err.Error() != `invalid query parameter "label": not valid UTF-8` {
		t.Errorf("err = %v, want the fixed refusal naming label", err)
	}
	req = ztbrokerv1.ListLeasesRequest{}
	if err := (restjson.QueryParser{}).Parse(&req, url.Values{"page_size": {"5"}, "state": {"STATE_ACTIVE"}, "utm_source": {"x"}}, utilities.NewDoubleArray(nil)); err != nil {
		t.Fatalf("parse: %v", err)
	}
	if req.GetPageSize() != 5 || req.GetState() != ztbrokerv1.Lease_STATE_ACTIVE {
		t.Errorf("got %v", &req)
	}
}

// TestOpenAPISaysSo: the document clients generate from names both
// duration forms on every TTL a request takes.
func TestOpenAPISaysSo(t *testing.T) {
	t.Parallel()
	var doc struct {
		Definitions map[string]struct {
			Properties map[string]struct {
				Description string `json:"description"`
			} `json:"properties"`
		} `json:"definitions"`
	}
	if err := json.Unmarshal(apidocs.OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	n := 0
	for name, def := range doc.Definitions {
		if p, ok := def.Properties["ttl"]; ok {
			n++
			if !strings.Contains(p.Description, `"900s"`) || !strings.Contains(p.Description, `"15m"`) {
				t.Errorf("%s.ttl: description %q names neither form", name, p.Description)
			}
		}
	}
	if n == 0 {
		t.Error("no request with a ttl in the OpenAPI document")
	}
}
