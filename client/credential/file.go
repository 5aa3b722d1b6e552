package credential

import (
	"context"
	"io"
	"os"
	"strings"
)

// maxTokenBytes bounds what is read as one credential; real JWTs are a few
// KB.
const maxTokenBytes = 64 << 10

// File reads an OIDC token from a file on every use, because projected
// service-account tokens are rotated in place by the kubelet.
type File struct {
	Path string
}

// Token returns the file's contents without surrounding whitespace.
func (f File) Token(context.Context) (string, error) {
	return readCredential(f.Path, "OIDC token")
}

// APIKeyFile reads a broker API key from a file on every use, so that a
// key rotated by a secret manager is picked up without a restart.
type APIKeyFile struct {
	Path string
}

// Token returns the file's contents without surrounding whitespace.
func (f APIKeyFile) Token(context.Context) (string, error) {
	return readCredential(f.Path, "API key")
}

func readCredential(path, what string) (string, error) {
	fh, err := os.Open(path)
	if err != nil {
		// The *PathError already names the file; nothing secret is in it.
		return "", unauthenticated("read %s: %v", what, err)
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, maxTokenBytes+1))
	if err != nil {
		return "", unauthenticated("read %s file %s: %v", what, path, err)
	}
	if len(b) > maxTokenBytes {
		return "", unauthenticated("%s file %s is larger than %d bytes", what, path, maxTokenBytes)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", unauthenticated("%s file %s is empty", what, path)
	}
	return tok, nil
}
