package emulator

import (
	"encoding/hex"
	"io"
)

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// randomAlnum draws n characters uniformly from [A-Za-z0-9], rejecting the
// bytes that would bias the draw.
func randomAlnum(r io.Reader, n int) (string, error) {
	const limit = 256 - 256%len(alnum)
	out := make([]byte, 0, n)
	buf := make([]byte, n)
	for len(out) < n {
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		for _, b := range buf {
			if int(b) < limit && len(out) < n {
				out = append(out, alnum[int(b)%len(alnum)])
			}
		}
	}
	return string(out), nil
}

func randomHex(r io.Reader, nBytes int) (string, error) {
	b := make([]byte, nBytes)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}
