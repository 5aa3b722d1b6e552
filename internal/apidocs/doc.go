// Package apidocs embeds the OpenAPI document generated from the proto
// files (by protoc-gen-openapiv2, see buf.gen.yaml), which the broker
// serves at /openapi.json.
package apidocs

import _ "embed"

// OpenAPI is the generated Swagger 2.0 document for the REST gateway.
//
//go:embed ztbroker.swagger.json
var OpenAPI []byte
