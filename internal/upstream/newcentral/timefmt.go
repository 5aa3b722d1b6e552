package newcentral

import (
	"encoding/json"
	"time"
)

// flexTime reads a v2 date-time leniently. The spec says RFC 3339, but a
// create response must never be rejected over a date format: the key would
// then exist upstream with the broker holding no secret for it. Unix
// milliseconds (Legacy's convention) are accepted too; anything else reads
// as zero.
type flexTime time.Time

func (f *flexTime) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			*f = flexTime(t)
		}
		return nil
	}
	var ms int64
	if json.Unmarshal(b, &ms) == nil && ms > 0 {
		*f = flexTime(time.UnixMilli(ms).UTC())
	}
	return nil
}

func (f flexTime) Time() time.Time { return time.Time(f) }
