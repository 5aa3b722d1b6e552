package scope

import (
	"bytes"
	"encoding/json"
	"errors"
)

// ErrUnfilterable means a list response did not have the shape the
// catalogue expects, so it cannot be shown: an unfiltered list could hold
// resources outside the scope.
var ErrUnfilterable = errors.New("scope: list response has an unexpected shape")

// NeedsFilter reports whether op's successful responses must go through
// Filter before the caller sees them.
func (sc *Scope) NeedsFilter(op *Op) bool {
	if op == nil || op.List == nil {
		return false
	}
	return sc.allowlist(op.List.Resource) != nil
}

func (sc *Scope) allowlist(resource string) map[string]bool {
	if resource == ParamNetwork {
		return sc.networks
	}
	return sc.members
}

// Filter cuts a list response down to the items the scope allows and
// drops the operation's aggregate keys. Items are kept in order; numbers
// and every other field pass through unchanged.
func (sc *Scope) Filter(op *Op, body []byte) ([]byte, error) {
	if !sc.NeedsFilter(op) {
		return body, nil
	}
	c := op.List
	allowed := sc.allowlist(c.Resource)
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if c.Items == "" {
		var items []map[string]any
		if err := dec.Decode(&items); err != nil {
			return nil, ErrUnfilterable
		}
		kept, err := keep(items, c.IDField, allowed)
		if err != nil {
			return nil, err
		}
		return encodeJSON(kept)
	}
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return nil, ErrUnfilterable
	}
	raw, ok := obj[c.Items].([]any)
	if !ok {
		return nil, ErrUnfilterable
	}
	items := make([]map[string]any, 0, len(raw))
	for _, it := range raw {
		m, ok := it.(map[string]any)
		if !ok {
			return nil, ErrUnfilterable
		}
		items = append(items, m)
	}
	kept, err := keep(items, c.IDField, allowed)
	if err != nil {
		return nil, err
	}
	obj[c.Items] = kept
	for _, k := range c.Drop {
		delete(obj, k)
	}
	return encodeJSON(obj)
}

func keep(items []map[string]any, idField string, allowed map[string]bool) ([]map[string]any, error) {
	out := make([]map[string]any, 0, len(items))
	for _, it := range items {
		id, ok := it[idField].(string)
		if !ok {
			return nil, ErrUnfilterable
		}
		if allowed[id] {
			out = append(out, it)
		}
	}
	return out, nil
}
