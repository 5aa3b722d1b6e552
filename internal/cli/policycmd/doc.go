// Package policycmd implements "broker policy test": a dry run of a
// purpose's policy against an identity described in a JSON file, using the
// same config loading and policy code as the broker but no running broker,
// database or secrets. It prints which rule admits the identity, or why
// each rule does not, so a policy change can be checked before it ships.
package policycmd
