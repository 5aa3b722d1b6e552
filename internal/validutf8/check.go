package validutf8

import (
	"context"
	"fmt"
	"net/url"
	"unicode/utf8"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Check returns an error naming the first field of m, by its proto path
// ("labels", "filter.purpose"), that holds a string which is not UTF-8.
func Check(m proto.Message) error {
	if path, ok := check(m.ProtoReflect(), ""); !ok {
		return fmt.Errorf("field %q is not valid UTF-8", path)
	}
	return nil
}

// check walks the populated fields of m; path is m's own.
func check(m protoreflect.Message, path string) (string, bool) {
	bad, ok := "", true
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		name := string(fd.Name())
		if path != "" {
			name = path + "." + name
		}
		switch {
		case fd.IsMap():
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				ok = validValue(fd.MapKey(), k.Value(), name, &bad) && validValue(fd.MapValue(), mv, name, &bad)
				return ok
			})
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len() && ok; i++ {
				ok = validValue(fd, l.Get(i), name, &bad)
			}
		default:
			ok = validValue(fd, v, name, &bad)
		}
		return ok
	})
	return bad, ok
}

func validValue(fd protoreflect.FieldDescriptor, v protoreflect.Value, name string, bad *string) bool {
	switch fd.Kind() {
	case protoreflect.StringKind:
		if !utf8.ValidString(v.String()) {
			*bad = name
			return false
		}
	case protoreflect.MessageKind, protoreflect.GroupKind:
		if path, ok := check(v.Message(), name); !ok {
			*bad = path
			return false
		}
	}
	return true
}

// UnaryServerInterceptor refuses a request whose strings are not UTF-8
// with INVALID_ARGUMENT before the handler sees it.
func UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if m, ok := req.(proto.Message); ok {
			if err := Check(m); err != nil {
				return nil, status.Error(codes.InvalidArgument, "invalid request: "+err.Error())
			}
		}
		return handler(ctx, req)
	}
}

// StreamServerInterceptor checks each message a stream receives, as
// UnaryServerInterceptor checks a unary request.
func StreamServerInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		return handler(srv, checkedStream{ss})
	}
}

type checkedStream struct{ grpc.ServerStream }

func (s checkedStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if pm, ok := m.(proto.Message); ok {
		if err := Check(pm); err != nil {
			return status.Error(codes.InvalidArgument, "invalid request: "+err.Error())
		}
	}
	return nil
}

// CheckPath is Check for the REST path, whose unescaped segments the
// gateway copies into fields. The query parameters are restjson's to
// check, as it parses them.
func CheckPath(u *url.URL) error {
	if !utf8.ValidString(u.Path) {
		return fmt.Errorf("the path is not valid UTF-8")
	}
	return nil
}
