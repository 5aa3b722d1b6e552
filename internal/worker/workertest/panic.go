package workertest

import "sync/atomic"

// PanicOnce panics the first time Trip is called and never again, like a
// bug that only one pass's data trips. Tests embed it in a wrapper of the
// store or an issuer and call Trip from the method under test.
type PanicOnce struct{ done atomic.Bool }

// Trip panics on its first call.
func (p *PanicOnce) Trip() {
	if p.done.CompareAndSwap(false, true) {
		panic("bug")
	}
}
