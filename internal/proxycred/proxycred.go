package proxycred

import (
	"crypto/rand"
	"fmt"
	"hash/crc32"
	"io"
)

// Prefix starts every credential.
const Prefix = "ztbp_"

const (
	randomLen   = 40
	checksumLen = 6
	// Len is the length of a credential.
	Len = len(Prefix) + randomLen + checksumLen
)

const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// New draws a credential from r, or crypto/rand when r is nil.
func New(r io.Reader) (string, error) {
	if r == nil {
		r = rand.Reader
	}
	// Bytes at or above the largest multiple of 62 are rejected, so no
	// character is likelier than another.
	const limit = 256 - 256%len(alphabet)
	out := make([]byte, 0, Len)
	out = append(out, Prefix...)
	buf := make([]byte, randomLen*2)
	for len(out) < len(Prefix)+randomLen {
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", fmt.Errorf("proxycred: reading random bytes: %w", err)
		}
		for _, b := range buf {
			if int(b) < limit && len(out) < len(Prefix)+randomLen {
				out = append(out, alphabet[int(b)%len(alphabet)])
			}
		}
	}
	return string(checksum(out)), nil
}

// checksum appends the base62 CRC-32 of the random part of b.
func checksum(b []byte) []byte {
	sum := crc32.ChecksumIEEE(b[len(Prefix) : len(Prefix)+randomLen])
	var digits [checksumLen]byte
	for i := checksumLen - 1; i >= 0; i-- {
		digits[i] = alphabet[sum%uint32(len(alphabet))]
		sum /= uint32(len(alphabet))
	}
	return append(b, digits[:]...)
}

// WellFormed reports whether s has a credential's shape and checksum. It
// says nothing about whether any lease holds it.
func WellFormed(s string) bool {
	if len(s) != Len || s[:len(Prefix)] != Prefix {
		return false
	}
	for i := len(Prefix); i < Len; i++ {
		if !isAlnum(s[i]) {
			return false
		}
	}
	want := checksum([]byte(s[:len(Prefix)+randomLen]))
	return string(want) == s
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
}
