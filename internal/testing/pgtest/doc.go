// Package pgtest gives tests a real, isolated PostgreSQL database.
//
// When BROKER_TEST_DATABASE_URL is set its server is used; otherwise the
// first test that asks starts one throwaway cluster for the whole test
// process in a temporary directory, and Main stops it when the tests end.
// Each test gets its own database cloned from a template that is migrated
// once, so tests run in parallel and never see each other's rows.
//
// Tests that must stop and restart PostgreSQL mid-run take a private
// cluster with StartCluster instead.
//
// A package using pgtest calls it from its TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// PostgreSQL binaries are required: a missing server is a test failure,
// never a skip.
package pgtest
