package revoker

import (
	"context"
	"testing"

	"github.com/ztbroker/ztbroker/internal/testing/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func errDeadline() error { return context.DeadlineExceeded }
