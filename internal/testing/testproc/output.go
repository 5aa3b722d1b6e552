package testproc

import (
	"bytes"
	"sync"
)

// maxTail bounds the stderr kept per process: enough to explain a failure
// without holding a long chaos run's whole log in memory.
const maxTail = 256 << 10

// output keeps the tail of a process's stream and hands each complete
// line to a watcher until the watcher says it has seen enough.
type output struct {
	mu      sync.Mutex
	tail    []byte
	partial []byte
	watch   func(line []byte) (done bool)
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.tail = append(o.tail, p...)
	if len(o.tail) > maxTail {
		o.tail = append(o.tail[:0], o.tail[len(o.tail)-maxTail:]...)
	}
	if o.watch == nil {
		return len(p), nil
	}
	o.partial = append(o.partial, p...)
	for o.watch != nil {
		i := bytes.IndexByte(o.partial, '\n')
		if i < 0 {
			break
		}
		if o.watch(o.partial[:i]) {
			o.watch, o.partial = nil, nil
			break
		}
		o.partial = o.partial[i+1:]
	}
	return len(p), nil
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return string(o.tail)
}
