// Package policycmd implements "broker policy test": a dry run of a
// purpose's policy against an identity described in a JSON file, using the
// same config loading and policy code as the broker but no running broker,
// database or secrets. It prints which rule admits the identity, or why
// each rule does not, so a policy change can be checked before it ships.
// Given a request line (and a body), it does the same for a proxy
// purpose's scope: whether the call would be forwarded, and why, step by
// step, through package scope's own Explain.
package policycmd
