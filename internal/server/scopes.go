package server

import (
	"errors"
	"fmt"

	"github.com/ztbroker/ztbroker/internal/config"
	"github.com/ztbroker/ztbroker/internal/scope"
)

// ScopeAPI is the API a purpose's upstream speaks.
func ScopeAPI(p config.Purpose) scope.API {
	if p.Upstream.Kind == config.UpstreamLegacy {
		return scope.APIv1
	}
	return scope.APIv2
}

// CompileScope compiles a proxy purpose's scope. LoadConfig has already
// reported any problem with it at its field; this is for its users.
func CompileScope(p config.Purpose, proxy config.Proxy) (*scope.Scope, error) {
	if p.Scope == nil {
		return nil, fmt.Errorf("purpose %q has no scope", p.Name)
	}
	return scope.Compile(p.Name, ScopeAPI(p), scopeSpec(*p.Scope), scope.Options{MaxBody: proxy.MaxBodyBytes})
}

func scopeSpec(s config.Scope) scope.Spec {
	out := scope.Spec{Networks: s.Networks, Members: s.Members}
	for _, r := range s.Rules {
		out.Rules = append(out.Rules, scope.RuleSpec{Name: r.Name, Operations: r.Operations, When: r.When, Query: r.Query})
	}
	return out
}

// checkScopes reports each scope problem at its field, e.g.
// purposes[2].scope.rules[0].when, naming the purpose and the rule.
func checkScopes(c *config.Config, report config.Report) {
	for i, p := range c.Purposes {
		if !p.IsProxy() || p.Scope == nil {
			continue // the config package reports a missing scope
		}
		if p.Upstream.Kind != config.UpstreamNewCentral && p.Upstream.Kind != config.UpstreamLegacy {
			continue // nor can a scope be judged without its API
		}
		_, err := CompileScope(p, c.Proxy)
		if err == nil {
			continue
		}
		path := fmt.Sprintf("purposes[%d].scope", i)
		var list []error
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			list = j.Unwrap()
		} else {
			list = []error{err}
		}
		for _, e := range list {
			var ce *scope.CompileError
			if !errors.As(e, &ce) {
				report(path, "%v", e)
				continue
			}
			at := fmt.Sprintf("%s.%s[%d]", path, ce.Section, ce.Index)
			if ce.Section == "rules" && ce.Rule == "" && ce.Field == "" {
				report(path+".rules", "%s", ce.Msg)
				continue
			}
			if ce.Section != "rules" {
				report(at, "%s", ce.Msg)
				continue
			}
			if ce.Field != "" {
				at += "." + ce.Field
			}
			report(at, "rule %q of purpose %q: %s", ce.Rule, ce.Purpose, ce.Msg)
		}
	}
}
