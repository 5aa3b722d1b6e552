package config

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
)

// newForm is how the error for an unreadable upstreams section shows the
// form it wants.
const newForm = `upstreams is a list of named upstreams, e.g. upstreams: [{name: prod, kind: new_central, admin_key_env: ZT_PROD_KEY}, {name: old, kind: legacy, token_env: ZT_LEGACY_TOKEN}]`

// decodeYAML reads the list of named upstreams, or the older mapping
// with one upstream per kind (`upstreams: {new_central: …, legacy: …}`),
// whose entries are named after their kind. Those are the names leases
// minted before upstreams had names record, so they stay revocable.
func (us *Upstreams) decodeYAML(d *decoder, path string, in any) {
	switch v := in.(type) {
	case []any:
		*us = make(Upstreams, 0, len(v))
		for i, e := range v {
			p := path + "[" + strconv.Itoa(i) + "]"
			m, ok := e.(map[string]any)
			if !ok {
				d.errs.add(p, "must be a mapping, got %s", describe(e))
				continue
			}
			u := Upstream{Path: p}
			if name, ok := d.text(p+".name", m["name"]); ok {
				u.Name = name
			}
			kind, _ := d.text(p+".kind", m["kind"])
			rest := maps.Clone(m)
			delete(rest, "name")
			delete(rest, "kind")
			d.upstreamBody(p, kind, rest, &u)
			*us = append(*us, u)
		}
	case map[string]any:
		*us = Upstreams{}
		keys := slices.Sorted(maps.Keys(v))
		for _, k := range keys {
			p := join(path, k)
			if k != UpstreamNewCentral && k != UpstreamLegacy {
				d.errs.add(p, "unknown field; %s", newForm)
				continue
			}
			m, ok := v[k].(map[string]any)
			if !ok {
				if v[k] != nil {
					d.errs.add(p, "must be a mapping, got %s", describe(v[k]))
				}
				continue
			}
			u := Upstream{Name: k, Path: p}
			d.upstreamBody(p, k, m, &u)
			*us = append(*us, u)
		}
		// New Central first, as the older form's users have always seen it.
		slices.SortStableFunc(*us, func(a, b Upstream) int {
			return boolInt(a.Kind == UpstreamLegacy) - boolInt(b.Kind == UpstreamLegacy)
		})
		if len(*us) > 0 {
			d.notices = append(d.notices, fmt.Sprintf("%s: the mapping form is deprecated; its upstreams are named after their kind (%s). Write it as a list: %s",
				path, upstreamNames(*us), newForm))
		}
	default:
		d.errs.add(path, "must be a list, got %s; %s", describe(in), newForm)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func upstreamNames(us Upstreams) string {
	s := ""
	for i, u := range us {
		if i > 0 {
			s += ", "
		}
		s += u.Name
	}
	return s
}

// upstreamBody decodes an upstream's settings into the struct of its kind.
func (d *decoder) upstreamBody(path, kind string, body map[string]any, u *Upstream) {
	u.Kind = kind
	switch kind {
	case UpstreamNewCentral:
		u.NewCentral = &NewCentral{}
		d.object(path, body, reflect.ValueOf(u.NewCentral).Elem())
	case UpstreamLegacy:
		u.Legacy = &Legacy{}
		d.object(path, body, reflect.ValueOf(u.Legacy).Elem())
	case "":
		d.errs.add(path+".kind", "is required (new_central or legacy)")
	default:
		d.errs.add(path+".kind", "must be new_central or legacy, got %q", kind)
	}
}

// text reads an optional string field.
func (d *decoder) text(path string, in any) (string, bool) {
	if in == nil {
		return "", false
	}
	var s string
	d.decode(path, in, reflect.ValueOf(&s).Elem())
	return s, true
}

// decodeYAML reads a purpose's upstream: the upstream's name alone
// (`upstream: prod`), or a mapping with name, kind and service_account_id.
func (pu *PurposeUpstream) decodeYAML(d *decoder, path string, in any) {
	if s, ok := in.(string); ok {
		pu.Name = s
		return
	}
	d.object(path, in, reflect.ValueOf(pu).Elem())
}
