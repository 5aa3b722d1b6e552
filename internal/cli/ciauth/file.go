package ciauth

import (
	"context"
	"io"
	"os"
	"strings"
)

// maxTokenBytes bounds what is read as one token; real JWTs are a few KB.
const maxTokenBytes = 64 << 10

// File reads the token from a file on every use, because projected
// service-account tokens are rotated in place by the kubelet.
type File struct {
	Path string
}

// Token returns the file's contents without surrounding whitespace.
func (f File) Token(context.Context) (string, error) {
	fh, err := os.Open(f.Path)
	if err != nil {
		// The *PathError already names the file; nothing secret is in it.
		return "", unauthenticated("read OIDC token: %v", err)
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, maxTokenBytes+1))
	if err != nil {
		return "", unauthenticated("read OIDC token file %s: %v", f.Path, err)
	}
	if len(b) > maxTokenBytes {
		return "", unauthenticated("OIDC token file %s is larger than %d bytes", f.Path, maxTokenBytes)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", unauthenticated("OIDC token file %s is empty", f.Path)
	}
	return tok, nil
}
