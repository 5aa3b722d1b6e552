package emulator_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator/emulatortest"
)

const (
	netA = "8056c2e21c000001"
	memA = "deadbeef00"
	memB = "deadbeef01"
)

func seeded(t *testing.T, opts ...emulator.Option) *emulatortest.Emulator {
	t.Helper()
	return emulatortest.Start(t, append([]emulator.Option{emulator.WithNetworks(emulator.NetworkSeed{
		ID: netA, Name: "ci", Members: []emulator.MemberSeed{{ID: memA, Name: "runner-1", Authorized: true}, {ID: memB, Name: "runner-2"}},
	})}, opts...)...)
}

// do sends one request and decodes whatever JSON comes back.
func do(t *testing.T, e *emulatortest.Emulator, method, path, auth, body string) (int, any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, e.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", auth)
	resp, err := e.HTTPClient().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out any
	_ = json.Unmarshal(b, &out)
	return resp.StatusCode, out
}

func field(v any, path ...string) any {
	for _, p := range path {
		m, _ := v.(map[string]any)
		v = m[p]
	}
	return v
}

func member(t *testing.T, e *emulatortest.Emulator, id string) emulator.MemberTruth {
	t.Helper()
	n, ok := e.Network(netA)
	if !ok {
		t.Fatal("network gone")
	}
	for _, m := range n.Members {
		if m.ID == id {
			return m
		}
	}
	t.Fatalf("member %s not found", id)
	return emulator.MemberTruth{}
}

func TestNetworksAreOneModelSeenByBothAPIs(t *testing.T) {
	t.Parallel()
	e := seeded(t)
	v1, v2 := "token "+e.AdminToken, "Bearer "+e.AdminToken
	n1, m1 := "/api/v1/network/"+netA, "/api/v1/network/"+netA+"/member/"
	n2, m2 := "/api/v2/network/"+netA, "/api/v2/network/"+netA+"/member/"

	st, list := do(t, e, "GET", "/api/v1/network", v1, "")
	l, _ := list.([]any)
	if st != 200 || len(l) != 1 || field(l[0], "id") != netA || field(l[0], "config", "name") != "ci" || field(l[0], "authorizedMemberCount") != 1.0 {
		t.Fatalf("v1 list: %d %v", st, list)
	}
	st, list = do(t, e, "GET", "/api/v2/network", v2, "")
	items, _ := field(list, "items").([]any)
	if st != 200 || len(items) != 1 || field(items[0], "id") != netA || field(items[0], "name") != "ci" || field(list, "stats") == nil {
		t.Fatalf("v2 list: %d %v", st, list)
	}
	if _, has := items[0].(map[string]any)["config"]; has {
		t.Error("a v2 list item carries config; NetworkSummary has none")
	}

	// v1 authorise with go-ztcentral's nulls: the nulls change nothing.
	st, got := do(t, e, "POST", m1+memB, v1, `{"name":null,"config":{"authorized":true,"ipAssignments":null}}`)
	if st != 200 || field(got, "config", "authorized") != true || field(got, "name") != "runner-2" || field(got, "nodeId") != memB {
		t.Fatalf("v1 authorise: %d %v", st, got)
	}
	if st, got = do(t, e, "GET", m2+memB, v2, ""); st != 200 || field(got, "status") != "authorized" || field(got, "deviceId") != memB {
		t.Fatalf("v2 sees v1's authorisation: %d %v", st, got)
	}
	if st, got = do(t, e, "POST", m2+memB+"/de-authorize", v2, ""); st != 200 || field(got, "status") != "not_authorized" {
		t.Fatalf("v2 de-authorize: %d %v", st, got)
	}
	if st, _ = do(t, e, "POST", m2+memA, v2, `{"name":"renamed","ipv4Assignments":["10.147.17.9"]}`); st != 200 {
		t.Fatalf("v2 update: %d", st)
	}
	want := emulator.MemberTruth{ID: memA, Name: "renamed", Authorized: true, Status: "authorized", IPAssignments: []string{"10.147.17.9"}, Revision: 1}
	if d := cmp.Diff(want, member(t, e, memA)); d != "" {
		t.Errorf("ground truth after v2 update (-want +got):\n%s", d)
	}
	if st, got = do(t, e, "GET", m1+memA, v1, ""); st != 200 || field(got, "config", "ipAssignments").([]any)[0] != "10.147.17.9" {
		t.Errorf("v1 sees v2's IP assignment: %d %v", st, got)
	}

	// Bulk actions and membership changes.
	if st, _ = do(t, e, "POST", m2+"reject", v2, `["`+memA+`","`+memB+`"]`); st != 200 || member(t, e, memA).Status != "rejected" {
		t.Errorf("bulk reject: %d %+v", st, member(t, e, memA))
	}
	if st, got = do(t, e, "POST", m2[:len(m2)-1], v2, `[{"deviceId":"deadbeef02","name":"new"}]`); st != 200 || member(t, e, "deadbeef02").Status != "not_authorized" {
		t.Errorf("v2 add: %d %v", st, got)
	}
	if st, _ = do(t, e, "POST", m1+"deadbeef03", v1, `{"config":{"authorized":true}}`); st != 200 || !member(t, e, "deadbeef03").Authorized {
		t.Errorf("v1 pre-authorise of a new node: %d", st)
	}
	if st, _ = do(t, e, "DELETE", m2[:len(m2)-1], v2, `[{"deviceId":"deadbeef02"}]`); st != 200 {
		t.Errorf("v2 bulk delete: %d", st)
	}
	if st, _ = do(t, e, "DELETE", m1+"deadbeef03", v1, ""); st != 200 {
		t.Errorf("v1 delete: %d", st)
	}
	n, _ := e.Network(netA)
	if len(n.Members) != 2 {
		t.Errorf("after deletes the network has %d members, want 2", len(n.Members))
	}

	// Networks: update, create with either API, delete.
	if st, got = do(t, e, "POST", n2, v2, `{"description":"runners","config":{"private":true,"mtu":1400}}`); st != 200 || field(got, "config", "mtu") != 1400.0 || field(got, "kind") != "v1" {
		t.Errorf("v2 network update: %d %v", st, got)
	}
	if st, got = do(t, e, "GET", n1, v1, ""); st != 200 || field(got, "description") != "runners" || field(got, "config", "mtu") != 1400.0 {
		t.Errorf("v1 sees v2's network update: %d %v", st, got)
	}
	st, created := do(t, e, "POST", "/api/v1/network", v1, `{"config":{"name":"made-by-v1"}}`)
	id1, _ := field(created, "id").(string)
	if st != 200 || len(id1) != 16 || field(created, "config", "name") != "made-by-v1" {
		t.Fatalf("v1 create: %d %v", st, created)
	}
	st, created = do(t, e, "POST", "/api/v2/network-group/"+emulator.DefaultNetworkGroup+"/network", v2, `{"name":"made-by-v2"}`)
	id2, _ := field(created, "id").(string)
	if st != 200 || len(id2) != 16 || field(created, "networkGroupId") != emulator.DefaultNetworkGroup {
		t.Fatalf("v2 create: %d %v", st, created)
	}
	if st, _ = do(t, e, "DELETE", "/api/v2/network/"+id1, v2, ""); st != 200 {
		t.Errorf("v2 delete: %d", st)
	}
	if st, _ = do(t, e, "DELETE", "/api/v1/network/"+id2, v1, ""); st != 200 {
		t.Errorf("v1 delete: %d", st)
	}
	if got := len(e.Networks()); got != 1 {
		t.Errorf("%d networks left, want 1", got)
	}

	// Missing resources and bad input.
	for _, c := range []struct {
		method, path, auth, body string
		want                     int
	}{
		{"GET", "/api/v1/network/8056c2e21c0000ff", v1, "", 404},
		{"GET", "/api/v2/network/8056c2e21c0000ff", v2, "", 404},
		{"GET", m2 + "00000000ff", v2, "", 404},
		{"POST", m1 + memA, v1, `{"config":{"authorized":"yes"}}`, 400},
		{"POST", m2 + "authorize", v2, `["00000000ff"]`, 400},
		{"GET", n2, "Bearer wrong", "", 401},
		{"GET", n1, "token wrong", "", 401},
	} {
		if st, body := do(t, e, c.method, c.path, c.auth, c.body); st != c.want {
			t.Errorf("%s %s: %d %v, want %d", c.method, c.path, st, body, c.want)
		}
	}
}

func TestSeededNetworksComeBackAfterReset(t *testing.T) {
	t.Parallel()
	e := seeded(t)
	do(t, e, "DELETE", "/api/v1/network/"+netA, "token "+e.AdminToken, "")
	if len(e.Networks()) != 0 {
		t.Fatal("delete did nothing")
	}
	e.Reset()
	got, err := e.Admin().Networks(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != netA || len(got[0].Members) != 2 {
		t.Errorf("after reset: %+v", got)
	}
}

func TestParseNetworkSeed(t *testing.T) {
	t.Parallel()
	got, err := emulator.ParseNetworkSeed("8056c2e21c000001:ci,deadbeef00+,deadbeef01")
	if err != nil {
		t.Fatal(err)
	}
	want := emulator.NetworkSeed{ID: netA, Name: "ci", Members: []emulator.MemberSeed{{ID: memA, Authorized: true}, {ID: memB}}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	for _, bad := range []string{"8056C2E21C000001", "8056c2e21c00000", "8056c2e21c000001,zz"} {
		if _, err := emulator.ParseNetworkSeed(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestALeaseKeyCanMintCredentials shows the emulator lets a lease's own
// token do what a real one can: create service accounts and keys (New
// Central) and user tokens (Legacy). The broker's proxy must refuse both.
func TestALeaseKeyCanMintCredentials(t *testing.T) {
	t.Parallel()
	e := seeded(t)
	ctx := t.Context()
	key, err := e.NewCentralIssuer(t).Mint(ctx, "ztbroker-x-lease", e.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	bearer := "Bearer " + key.Secret
	st, sa := do(t, e, "POST", "/api/v2/org/"+emulator.DefaultOrgID+"/service-account", bearer, `{"id":"escape","name":"escape"}`)
	if st != 200 || field(sa, "id") != "escape" {
		t.Fatalf("lease key creating a service account: %d %v", st, sa)
	}
	st, k := do(t, e, "POST", "/api/v2/service-account/escape/api-key", bearer, `{"expires":"2099-01-01T00:00:00Z"}`)
	if st != 200 || field(k, "key") == nil {
		t.Fatalf("lease key creating a long-lived key: %d", st)
	}
	if st, list := do(t, e, "GET", "/api/v2/org/"+emulator.DefaultOrgID+"/service-account", bearer, ""); st != 200 || len(field(list, "items").([]any)) != 2 {
		t.Errorf("list service accounts: %d %v", st, list)
	}
	alive := 0
	for _, tok := range e.Tokens().Alive() {
		if tok.Account == "escape" {
			alive++
		}
	}
	if alive != 1 {
		t.Errorf("ground truth shows %d live keys on the new account, want 1", alive)
	}

	lg := e.LegacyIssuer(t)
	tok, err := lg.Mint(ctx, "ztbroker-x-legacy", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	st, _ = do(t, e, "POST", "/api/v1/user/"+lg.Account()+"/token", "token "+tok.Secret,
		`{"tokenName":"escape","token":"`+strings.Repeat("e", 40)+`"}`)
	if st != 200 {
		t.Errorf("legacy token creating a token: %d", st)
	}
	if st, _ = do(t, e, "POST", "/api/v2/org/other-org/service-account", bearer, `{"id":"x","name":"x"}`); st != 403 {
		t.Errorf("another org: %d, want 403", st)
	}
}
