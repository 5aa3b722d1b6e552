package clientcmd

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"google.golang.org/protobuf/types/known/timestamppb"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
)

func writeLeaseTable(w io.Writer, leases []*ztbrokerv1.Lease) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPURPOSE\tSTATE\tOWNER\tEXPIRES\tLABELS")
	for _, l := range leases {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", cell(l.GetId()), cell(l.GetPurpose()), stateName(l.GetState()),
			cell(l.GetOwner()), stamp(l.GetExpireTime()), cell(labelString(l.GetLabels())))
	}
	return tw.Flush()
}

// writeLease shows one lease as "field: value" lines.
func writeLease(w io.Writer, l *ztbrokerv1.Lease) error {
	tw := tabwriter.NewWriter(w, 0, 4, 1, ' ', 0)
	rows := [][2]string{
		{"id", l.GetId()},
		{"purpose", l.GetPurpose()},
		{"owner", l.GetOwner()},
		{"state", stateName(l.GetState())},
		{"labels", labelString(l.GetLabels())},
		{"issued", stamp(l.GetIssueTime())},
		{"expires", stamp(l.GetExpireTime())},
		{"max expires", stamp(l.GetMaxExpireTime())},
		{"upstream", l.GetUpstream()},
		{"upstream token", l.GetUpstreamTokenId()},
		{"token sha256", l.GetTokenSha256()},
		{"revoked", stamp(l.GetRevokeTime())},
		{"revoked by", l.GetRevokedBy()},
		{"revoke reason", l.GetRevokeReason()},
		{"revoke attempts", fmt.Sprint(l.GetRevokeAttempts())},
		{"last error", l.GetLastError()},
	}
	for _, r := range rows {
		if r[1] != "" && r[1] != "0" {
			fmt.Fprintf(tw, "%s:\t%s\n", r[0], cell(r[1]))
		}
	}
	return tw.Flush()
}

func writeAuditTable(w io.Writer, events []*ztbrokerv1.AuditEvent) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTIME\tACTION\tACTOR\tPURPOSE\tLEASE\tRESULT\tREASON")
	for _, e := range events {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.GetId(), stamp(e.GetTime()), cell(e.GetAction()),
			cell(e.GetActorKind()+":"+e.GetActorSubject()), cell(e.GetPurpose()), cell(e.GetLeaseId()), cell(e.GetResult()), cell(e.GetReason()))
	}
	return tw.Flush()
}

func stamp(ts *timestamppb.Timestamp) string {
	if ts == nil {
		return ""
	}
	return ts.AsTime().UTC().Format(time.RFC3339)
}

func labelString(labels map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		parts = append(parts, k+"="+labels[k])
	}
	return strings.Join(parts, ",")
}

// cell shows a value the broker stored for others to read (a reason, an
// owner, a label) so that it stays one cell of one row: a value holding
// anything but printable characters and spaces (a tab or newline that
// would forge columns and rows, a terminal escape sequence) is shown
// quoted with those characters escaped.
func cell(s string) string {
	for _, r := range s {
		if r != ' ' && !unicode.IsGraphic(r) {
			return strconv.QuoteToGraphic(s)
		}
	}
	return s
}
