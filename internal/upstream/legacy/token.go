package legacy

import (
	"crypto/rand"
	"fmt"
	"io"
)

// TokenLength is the length of generated tokens. Central requires at least
// 32 characters; 40 alphanumerics carry about 238 bits.
const TokenLength = 40

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// newToken draws TokenLength characters uniformly from alphabet. Bytes at or
// above the largest multiple of len(alphabet) are rejected, so no character
// is more likely than another.
func newToken(r io.Reader) (string, error) {
	if r == nil {
		r = rand.Reader
	}
	const limit = 256 - 256%len(alphabet)
	out := make([]byte, 0, TokenLength)
	buf := make([]byte, TokenLength*2)
	for len(out) < TokenLength {
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", fmt.Errorf("reading random bytes: %w", err)
		}
		for _, b := range buf {
			if int(b) < limit && len(out) < TokenLength {
				out = append(out, alphabet[int(b)%len(alphabet)])
			}
		}
	}
	return string(out), nil
}
