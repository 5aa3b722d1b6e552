package auditlog_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/store/auditlog"
)

// logs records, for every store.Store method, the decision whether the
// decorator writes the audit log line (true) or only delegates (false).
// It is the list a new store method must join: until it does,
// TestEveryMethodHasAnAuditDecision fails, so no method can skip the log
// by default.
var logs = map[string]bool{
	"CreatePending":       true,
	"Activate":            true,
	"FailPending":         true,
	"RenewLease":          true,
	"BeginRevoke":         true,
	"CompleteRevoke":      true,
	"RevokeActive":        true,
	"RecordRevokeFailure": true,
	"ForgetLease":         true,
	"AppendAudit":         true,
	"DropCredential":      true,
	"StartRotation":       true,
	"SwitchRotation":      true,
	"FinishRotation":      true,
	"RecordSighting":      true,
	"AppendAudits":        true,

	"GetLease":            false,
	"GetProxyLease":       false,
	"ListLeases":          false,
	"ClaimDue":            false,
	"NextDueTime":         false,
	"ClaimStalePending":   false,
	"RevokeMatching":      false,
	"ListUpstreamTokens":  false,
	"CountActive":         false,
	"SealedSecret":        false,
	"EraseSealedSecrets":  false,
	"ListAudit":           false,
	"Ping":                false,
	"CurrentCredential":   false,
	"RotationLock":        false,
	"RecordRotationKey":   false,
	"OpenRotation":        false,
	"GetRotation":         false,
	"CountSightings":      false,
	"LeasesActiveBetween": false,
	"DeleteEndedLeases":   false,
	// It takes no event but logs the ones the store reports appending.
	"MaintainAuditPartitions": false,
}

var storeType = reflect.TypeFor[store.Store]()

func TestEveryMethodHasAnAuditDecision(t *testing.T) {
	t.Parallel()
	inInterface := map[string]bool{}
	for i := range storeType.NumMethod() {
		name := storeType.Method(i).Name
		inInterface[name] = true
		if _, ok := logs[name]; !ok {
			t.Errorf("store.Store.%s has no entry in logs: decide whether auditlog logs it, wrap it to match, and add it", name)
		}
	}
	for name := range logs {
		if !inInterface[name] {
			t.Errorf("logs names %s, which store.Store no longer has", name)
		}
	}
}

// TestDecisionsHold checks the decorator does what logs says: every method
// reaches the inner store; a logging method takes an audit event and logs
// it once the inner store succeeds, and nothing when it fails; the rest
// take no event and log nothing.
func TestDecisionsHold(t *testing.T) {
	t.Parallel()
	errInner := errors.New("inner store failed")
	for i := range storeType.NumMethod() {
		m := storeType.Method(i)
		shouldLog, decided := logs[m.Name]
		if !decided {
			continue // TestEveryMethodHasAnAuditDecision reports it
		}
		t.Run(m.Name, func(t *testing.T) {
			t.Parallel()
			for _, innerErr := range []error{nil, errInner} {
				inner := &recorder{err: innerErr}
				var buf bytes.Buffer
				s := auditlog.Wrap(inner, slog.New(slog.NewJSONHandler(&buf, nil)))
				args, hasAudit := argsWithAudit(t, m.Type)
				if hasAudit != shouldLog {
					t.Fatalf("takes an audit event: %t, but logs says it logs: %t", hasAudit, shouldLog)
				}
				out := reflect.ValueOf(s).MethodByName(m.Name).Call(args)

				if got, _ := out[len(out)-1].Interface().(error); !errors.Is(got, innerErr) {
					t.Errorf("inner error %v came back as %v", innerErr, got)
				}
				if d := cmp.Diff([]string{m.Name}, inner.called()); d != "" {
					t.Errorf("calls to the inner store (-want +got):\n%s", d)
				}
				want := 0
				if shouldLog && innerErr == nil {
					want = 1
				}
				if got := len(lines(t, &buf)); got != want {
					t.Errorf("with inner error %v: %d log lines, want %d", innerErr, got, want)
				}
			}
		})
	}
}

// argsWithAudit builds arguments for a store method of type ft (as listed
// on the interface, without receiver): a context, then zero values, with
// an audit event wherever the method takes one (a list of events gets
// one). It reports whether it found a place for one.
func argsWithAudit(t *testing.T, ft reflect.Type) ([]reflect.Value, bool) {
	t.Helper()
	eventType := reflect.TypeFor[*store.AuditEvent]()
	event := reflect.ValueOf(&store.AuditEvent{Action: "test", Result: "ok"})
	args := []reflect.Value{reflect.ValueOf(t.Context())}
	if ft.In(0) != reflect.TypeFor[context.Context]() {
		t.Fatalf("first parameter is %s, want context.Context", ft.In(0))
	}
	found := false
	for i := 1; i < ft.NumIn(); i++ {
		v := reflect.New(ft.In(i)).Elem()
		switch {
		case v.Type() == eventType:
			v.Set(event)
			found = true
		case v.Type() == reflect.SliceOf(eventType):
			v.Set(reflect.Append(v, event))
			found = true
		case v.Kind() == reflect.Struct:
			if f := v.FieldByName("Audit"); f.IsValid() && f.Type() == eventType {
				f.Set(event)
				found = true
			}
		}
		args = append(args, v)
	}
	return args, found
}
