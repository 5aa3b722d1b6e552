package config

import (
	"errors"
	"fmt"
)

// FieldError is one problem with the config file.
type FieldError struct {
	// File is the name the config was loaded from.
	File string
	// Path is the field path, e.g. "purposes[1].max_ttl"; empty for
	// problems with the document as a whole.
	Path string
	Msg  string
}

func (e *FieldError) Error() string {
	if e.Path == "" {
		return e.File + ": " + e.Msg
	}
	return e.File + ": " + e.Path + ": " + e.Msg
}

// fieldErrors collects every problem so all are reported together.
type fieldErrors struct {
	file string
	list []error
}

func (fe *fieldErrors) add(path, format string, args ...any) {
	fe.list = append(fe.list, &FieldError{File: fe.file, Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (fe *fieldErrors) err() error { return errors.Join(fe.list...) }
