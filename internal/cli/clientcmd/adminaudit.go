package clientcmd

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
)

// maxPageSize is the most the broker returns per page.
const maxPageSize = 1000

func adminAudit(newEnv EnvFunc) *cobra.Command {
	c := newCommand(newEnv, "audit [flags]", "Show the audit log, newest first", "",
		`  broker admin audit --limit 20
  broker admin audit --purpose deploy --action deny --format json
  broker admin audit --upstream prod --action admin_key_rotated`)
	var req ztbrokerv1.ListAuditEventsRequest
	c.fs.StringVar(&req.Purpose, "purpose", "", "only events of this purpose")
	c.fs.StringVar(&req.LeaseId, "lease", "", "only events of this lease `id`")
	c.fs.StringVar(&req.Actor, "actor", "", "only events by this actor, `kind:subject`")
	c.fs.StringVar(&req.Action, "action", "", "only events of this action, e.g. issue, revoke, deny")
	c.fs.StringVar(&req.Upstream, "upstream", "", "only events that concern this upstream, by its configured `name`")
	limit := c.fs.Int("limit", 100, "show at most this many events, newest first")
	format := c.fs.String("format", "table", "output: table or json")
	return c.run(func(ctx context.Context, env Env, cfg connConfig, args []string) int {
		if *limit <= 0 {
			return fail(env, usagef("admin audit: --limit must be positive"))
		}
		if err := checkFormat(*format, "table", "json"); err != nil {
			return fail(env, err)
		}
		return withSession(ctx, cfg, env, func(ctx context.Context, s *session) error {
			var events []*ztbrokerv1.AuditEvent
			for len(events) < *limit {
				req.PageSize = int32(min(*limit-len(events), maxPageSize))
				resp, err := s.admin.ListAuditEvents(ctx, &req)
				if err != nil {
					return fmt.Errorf("list audit events: %w", err)
				}
				events = append(events, resp.GetEvents()...)
				if req.PageToken = resp.GetNextPageToken(); req.PageToken == "" {
					break
				}
			}
			events = events[:min(len(events), *limit)]
			if *format == "json" {
				return writeJSON(env.Stdout, &ztbrokerv1.ListAuditEventsResponse{Events: events})
			}
			return writeAuditTable(env.Stdout, events)
		})
	})
}
