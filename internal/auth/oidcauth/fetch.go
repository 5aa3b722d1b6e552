package oidcauth

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// maxDocBytes bounds a discovery document or JWKS. Real ones are a few KiB.
const maxDocBytes = 1 << 20

// getJSON fetches url into v. Errors name the URL and status but never
// echo the body, which is the issuer's to control.
func getJSON(ctx context.Context, client *http.Client, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// Drain a little so the connection can be reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocBytes+1))
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	if len(body) > maxDocBytes {
		return fmt.Errorf("GET %s: response larger than %d bytes", url, maxDocBytes)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: decoding: %w", url, err)
	}
	return nil
}

// discover returns the jwks_uri of issuer, checking that the document
// names the same issuer (OIDC Discovery §4.3), so a misconfigured URL
// cannot silently borrow another issuer's keys.
func discover(ctx context.Context, client *http.Client, issuer string) (string, error) {
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := getJSON(ctx, client, trimSlash(issuer)+"/.well-known/openid-configuration", &doc); err != nil {
		return "", err
	}
	if doc.Issuer != issuer {
		return "", fmt.Errorf("discovery document names issuer %q, want %q", doc.Issuer, issuer)
	}
	if !isHTTPS(doc.JWKSURI) {
		return "", fmt.Errorf("discovery jwks_uri %q is not an https URL", doc.JWKSURI)
	}
	return doc.JWKSURI, nil
}

func trimSlash(s string) string {
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}
