package pgstore

import (
	"encoding/base64"
	"fmt"
	"strconv"

	"github.com/ztbroker/ztbroker/internal/errs"
)

// Page cursors are opaque to callers: base64 of the last row's key, so
// clients cannot come to depend on what is inside.

func leaseCursor(id string) string { return base64.RawURLEncoding.EncodeToString([]byte(id)) }

func parseLeaseCursor(c string) (string, error) {
	if c == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) == 0 {
		return "", fmt.Errorf("pgstore: page cursor: %w", errs.InvalidArgument)
	}
	return string(b), nil
}

func auditCursor(id int64) string { return leaseCursor(strconv.FormatInt(id, 10)) }

func parseAuditCursor(c string) (int64, error) {
	if c == "" {
		return 0, nil
	}
	s, err := parseLeaseCursor(c)
	if err != nil {
		return 0, err
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id < 1 {
		return 0, fmt.Errorf("pgstore: audit page cursor: %w", errs.InvalidArgument)
	}
	return id, nil
}

func requireLimit(n int) error {
	if n < 1 {
		return fmt.Errorf("pgstore: limit %d: %w", n, errs.InvalidArgument)
	}
	return nil
}
