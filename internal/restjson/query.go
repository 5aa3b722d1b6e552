package restjson

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

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
		if !validUTF8(k, values[k]) {
			return fmt.Errorf("invalid query parameter %q: not valid UTF-8", strings.ToValidUTF8(truncate(k), "?"))
		}
		if err := p.Parse(msg, url.Values{k: values[k]}, filter); err != nil {
			return fmt.Errorf("invalid query parameter %q", truncate(k))
		}
	}
	return nil
}

func validUTF8(k string, vs []string) bool {
	if !utf8.ValidString(k) {
		return false
	}
	for _, v := range vs {
		if !utf8.ValidString(v) {
			return false
		}
	}
	return true
}

func truncate(k string) string {
	if len(k) > maxNameBytes {
		return k[:maxNameBytes] + "..."
	}
	return k
}

var install sync.Once

// UseQueryParser makes the gateway parse query parameters with
// QueryParser. grpc-gateway keeps its parser in a package variable that a
// ServeMux option sets; setting it once per process keeps servers started
// in parallel (tests) from racing on it.
func UseQueryParser() {
	install.Do(func() { runtime.NewServeMux(runtime.SetQueryParameterParser(QueryParser{})) })
}
