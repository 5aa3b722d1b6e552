package restjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"unicode/utf8"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// Fixed messages for bodies that are not a request at all.
const (
	msgUnreadable = "invalid request body: could not be read"
	msgNotJSON    = "invalid request body: not valid JSON"
	msgNotUTF8    = "invalid request body: not valid UTF-8"
	msgTrailing   = "invalid request body: more than one JSON value"
	msgMismatch   = "invalid request body: does not match the request"
)

// Marshaler is runtime.JSONPb with snake_case output and the checked
// decoder.
type Marshaler struct {
	runtime.JSONPb
}

var _ runtime.Marshaler = (*Marshaler)(nil)

// New returns the REST door's marshaler.
func New() *Marshaler {
	return &Marshaler{JSONPb: runtime.JSONPb{
		MarshalOptions: protojson.MarshalOptions{UseProtoNames: true},
	}}
}

// NewDecoder reads the whole body (the HTTP door has bounded it already)
// and checks it before decoding.
func (m *Marshaler) NewDecoder(r io.Reader) runtime.Decoder {
	return runtime.DecoderFunc(func(v any) error { return m.decode(r, v) })
}

// Unmarshal is NewDecoder for a body already in memory.
func (m *Marshaler) Unmarshal(data []byte, v any) error {
	return m.decode(bytes.NewReader(data), v)
}

func (m *Marshaler) decode(r io.Reader, v any) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return errors.New(msgUnreadable)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		// The gateway treats EOF as an empty request, as JSONPb does.
		return io.EOF
	}
	// encoding/json would quietly turn invalid UTF-8 into U+FFFD, so a
	// caller's bytes would be stored as something it never sent.
	if !utf8.Valid(data) {
		return errors.New(msgNotUTF8)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return errors.New(msgNotJSON)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New(msgTrailing)
	}
	msg, ok := v.(proto.Message)
	if !ok {
		// The gateway decodes whole messages only (body: "*"); anything
		// else is decoded as plain JSON, with the same fixed refusal.
		if err := json.Unmarshal(data, v); err != nil {
			return errors.New(msgMismatch)
		}
		return nil
	}
	if tree, err = checkMessage("", tree, msg.ProtoReflect().Descriptor()); err != nil {
		return err
	}
	if data, err = json.Marshal(tree); err != nil {
		return errors.New(msgMismatch)
	}
	if err := m.UnmarshalOptions.Unmarshal(data, msg); err != nil {
		// checkMessage accepts only what protojson does; this is the
		// second lock on the same door, with a fixed message too.
		return errors.New(msgMismatch)
	}
	return nil
}
