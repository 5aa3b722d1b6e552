// Package keyrate keeps one token bucket per key (a caller, a source
// address) in bounded memory, for limits that must hold per key while the
// keys themselves come from outside: whoever is limited can mint new keys
// faster than any fixed table grows.
//
// A bucket that has refilled to its burst is the same as a new one, so it
// is dropped whenever the table is full; only if every bucket is still in
// use are arbitrary ones dropped, which can only make the limit more
// lenient for those keys, never stricter for anyone else.
package keyrate
