// Package restjson is the REST door's JSON: what the grpc-gateway decodes
// request bodies and query parameters with, and encodes answers with.
//
// Bodies are checked against the request message before protojson sees
// them, so that every refusal is a fixed, client-safe message naming the
// field (never a parser's text, which quotes the input and changes
// between versions), and durations are accepted the way the CLI and the
// configuration write them ("15m", "1h30m") as well as protobuf's
// seconds ("900s"). Answers use the proto field names, snake_case, as
// everything else the broker and the CLI print.
package restjson
