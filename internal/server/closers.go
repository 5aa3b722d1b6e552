package server

import "errors"

// closers unwinds what Complete built, newest first, so a failure half way
// through start-up releases exactly what was acquired.
type closers []func() error

func (c *closers) push(f func() error) { *c = append(*c, f) }

func (c *closers) close() error {
	var errs []error
	for i := len(*c) - 1; i >= 0; i-- {
		if err := (*c)[i](); err != nil {
			errs = append(errs, err)
		}
	}
	*c = nil
	return errors.Join(errs...)
}
