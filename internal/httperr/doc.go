// Package httperr writes the JSON error body of the broker's HTTP door:
// {"code": <gRPC code>, "message": <fixed text>}, the shape grpc-gateway
// gives the errors the service returns. Answers the gateway never sees
// (a failed authentication, an unknown route, an oversized body, a
// panic) use it too, so a REST client parses every failure one way.
package httperr
