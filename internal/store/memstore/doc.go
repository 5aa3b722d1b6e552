// Package memstore is an in-memory store.Store for `broker dev` and for
// tests that need no database. All state lives behind one mutex and is lost
// when the process exits. It passes the same conformance suite
// (storetest) as pgstore, so code developed against it behaves the same on
// PostgreSQL.
//
// Times are kept in UTC at microsecond precision, as PostgreSQL keeps them.
package memstore
