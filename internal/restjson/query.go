package restjson

import (
	"fmt"
	"net/url"
	"slices"
	"sync"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/grpc-ecosystem/grpc-gateway/v2/utilities"
	"google.golang.org/protobuf/proto"
)

// QueryParser is the gateway's query parser with a fixed refusal that
// names the parameter instead of strconv's text. Parameters no field
// takes are ignored, as the gateway does: proxies and caches add their
// own.
type QueryParser struct{}

var _ runtime.QueryParameterParser = QueryParser{}

// Parse fills msg from values one parameter at a time, so that a refusal
// can name the parameter it is about.
func (QueryParser) Parse(msg proto.Message, values url.Values, filter *utilities.DoubleArray) error {
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var p runtime.DefaultQueryParser
	for _, k := range keys {
		if err := p.Parse(msg, url.Values{k: values[k]}, filter); err != nil {
			if len(k) > maxNameBytes {
				k = k[:maxNameBytes] + "..."
			}
			return fmt.Errorf("invalid query parameter %q", k)
		}
	}
	return nil
}

var install sync.Once

// UseQueryParser makes the gateway parse query parameters with
// QueryParser. grpc-gateway keeps its parser in a package variable that a
// ServeMux option sets; setting it once per process keeps servers started
// in parallel (tests) from racing on it.
func UseQueryParser() {
	install.Do(func() { runtime.NewServeMux(runtime.SetQueryParameterParser(QueryParser{})) })
}
