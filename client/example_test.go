package client_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"strings"
	"time"

	"github.com/ztbroker/ztbroker/client"
	"github.com/ztbroker/ztbroker/internal/testing/brokertest"
)

// A service keeps a self-renewing token and calls the ZeroTier API with
// it. Here an in-process broker and ZeroTier emulator stand in for the
// real ones.
func ExampleClient_HTTPClient() {
	b, stop := brokertest.StartExample()
	defer stop()

	c, err := client.New(context.Background(), b.GRPCAddr, client.WithAPIKey(b.APIKey))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close() // revokes the lease

	// Requests go to the lease's API base URL, with its token.
	api := c.HTTPClient("svc", client.TTL(10*time.Minute))
	resp, err := api.Get("/api/v2/org")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.Status, strings.Contains(string(body), "Emulated Org"))
	// Output: 200 OK true
}

// A TokenSource hands out a token valid for at least a minute, renewing
// and replacing its lease in the background.
func ExampleClient_TokenSource() {
	b, stop := brokertest.StartExample()
	defer stop()

	ctx := context.Background()
	c, err := client.New(ctx, b.GRPCAddr, client.WithAPIKey(b.APIKey))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	ts := c.TokenSource("svc", client.MinValidity(time.Minute), client.Labels(map[string]string{"app": "billing"}))
	defer ts.Close()
	tok, err := ts.Token(ctx)
	if err != nil {
		log.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, tok.APIBaseURL+"/api/v2/org", nil)
	tok.SetAuthHeader(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println(tok.Scheme, resp.Status)
	// Printing or logging a token never shows the secret.
	fmt.Println(strings.Contains(fmt.Sprintf("%v %+v %#v", tok, tok, *tok), tok.Value))
	// Output:
	// Bearer 200 OK
	// false
}

// Issue, Renew and Revoke manage one lease by hand.
func ExampleClient_Issue() {
	b, stop := brokertest.StartExample()
	defer stop()

	ctx := context.Background()
	c, err := client.New(ctx, b.GRPCAddr, client.WithAPIKey(b.APIKey))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	tok, err := c.Issue(ctx, client.IssueRequest{Purpose: "svc", TTL: 5 * time.Minute, Labels: map[string]string{"job": "demo"}})
	if err != nil {
		log.Fatal(err)
	}
	l, err := c.Renew(ctx, tok.Lease.ID, 10*time.Minute)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(l.State, l.ExpireTime.After(tok.Lease.ExpireTime))
	l, _, err = c.Revoke(ctx, tok.Lease.ID, "done")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(l.State)
	// Output:
	// active true
	// revoked
}

// In GitHub Actions, in GitLab CI or on Kubernetes the client presents the
// workload's OIDC token instead of an API key.
func ExampleWithOIDC() {
	ctx := context.Background()
	// A projected service-account token, re-read on every call; or
	// "github" in a job with `permissions: id-token: write`, or
	// "env:ZTBROKER_ID_TOKEN" for GitLab's id_tokens.
	c, err := client.New(ctx, "ztbroker.ops.svc:9090",
		client.WithOIDC("file:/var/run/secrets/tokens/ztbroker"),
		client.WithTLSCA("/etc/ztbroker/ca.pem"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
}
