// Package validutf8 refuses request messages whose strings are not UTF-8.
//
// The API's protos declare utf8_validation NONE. With proto3's default,
// grpc-go's decoder refused such a message before any broker code ran and
// answered INTERNAL, which tells a client the broker failed rather than
// that its request was wrong, and which the server cannot change: grpc-go
// wraps every codec error as INTERNAL. Decoding now keeps the bytes, and
// this package is where the check moved, so that the refusal is
// INVALID_ARGUMENT and names the field. It never echoes the bytes
// themselves, which may be anything.
package validutf8
