// Package refusal bounds what refused callers cost the broker.
//
// With the github preset any workflow anywhere authenticates, and a
// caller that is authenticated but not admitted can be refused as fast as
// it can send; each refusal used to write an audit row and a log line. Two
// limits stop that:
//
//   - Turning away: each refusal (a denial or a quota rejection) spends a
//     token of its owner's and of its source address's bucket. A request
//     whose owner or address has none left is turned away with
//     RESOURCE_EXHAUSTED before any policy evaluation or database work.
//   - Recording: each owner may add refusal events to the audit trail at a
//     bounded rate. Past it, events are counted instead, and once per
//     interval one summary event per owner says how many were not
//     recorded and how many requests were turned away.
//
// Buckets live in keyrate sets, so neither limit grows without bound
// however many owners or addresses a flood invents.
package refusal
