package exectest

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2Proxy forwards loopback connections to a plaintext gRPC server and
// reads the HTTP/2 frames as they pass: it records the authorization
// metadata of every request, and can lose the first response the server
// sends, as a network that fails after the server acted would.
type h2Proxy struct {
	lis    net.Listener
	target string
	// dropNext, once armed, makes the next response HEADERS frame vanish
	// together with its connection.
	dropNext atomic.Bool

	mu      sync.Mutex
	auth    []string
	dropped int
	conns   map[net.Conn]struct{}
	closed  bool
	wg      sync.WaitGroup
}

func startProxy(t *testing.T, target string) *h2Proxy {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy listen: %v", err)
	}
	p := &h2Proxy{lis: lis, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.close)
	return p
}

func (p *h2Proxy) addr() string { return p.lis.Addr().String() }

// dropFirstResponse arms the proxy to lose the next response.
func (p *h2Proxy) dropFirstResponse() { p.dropNext.Store(true) }

func (p *h2Proxy) droppedResponses() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dropped
}

// authorizations are the authorization values requests carried, in order.
func (p *h2Proxy) authorizations() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.auth...)
}

func (p *h2Proxy) serve() {
	defer p.wg.Done()
	for {
		client, err := p.lis.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = client.Close()
			continue
		}
		if !p.track(client, server) {
			return
		}
		var once sync.Once
		closeBoth := func() {
			once.Do(func() {
				_ = client.Close()
				_ = server.Close()
				p.untrack(client, server)
			})
		}
		p.wg.Add(2)
		go func() { defer p.wg.Done(); defer closeBoth(); p.clientToServer(client, server) }()
		go func() { defer p.wg.Done(); defer closeBoth(); p.serverToClient(server, client) }()
	}
}

// clientToServer forwards the client's bytes unchanged while decoding its
// header blocks, which HPACK compresses with per-connection state.
func (p *h2Proxy) clientToServer(client, server net.Conn) {
	preface := make([]byte, len(http2.ClientPreface))
	if _, err := io.ReadFull(client, preface); err != nil {
		return
	}
	if _, err := server.Write(preface); err != nil {
		return
	}
	fr := http2.NewFramer(io.Discard, io.TeeReader(client, server))
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	for {
		f, err := fr.ReadFrame()
		var connErr http2.ConnectionError
		switch {
		case errors.As(err, &connErr):
			// Already forwarded; the server judges it.
			_, _ = io.Copy(server, client)
			return
		case err != nil:
			return
		}
		if mh, ok := f.(*http2.MetaHeadersFrame); ok {
			for _, hf := range mh.Fields {
				if hf.Name == "authorization" {
					p.mu.Lock()
					p.auth = append(p.auth, hf.Value)
					p.mu.Unlock()
				}
			}
		}
	}
}

// serverToClient forwards whole frames, so that an armed drop removes the
// response's first frame and everything after it.
func (p *h2Proxy) serverToClient(server, client net.Conn) {
	hdr := make([]byte, 9)
	for {
		if _, err := io.ReadFull(server, hdr); err != nil {
			return
		}
		n := int(hdr[0])<<16 | int(hdr[1])<<8 | int(hdr[2])
		frame := make([]byte, 9+n)
		copy(frame, hdr)
		if _, err := io.ReadFull(server, frame[9:]); err != nil {
			return
		}
		stream := binary.BigEndian.Uint32(hdr[5:9]) & 0x7fffffff
		if http2.FrameType(hdr[3]) == http2.FrameHeaders && stream != 0 && p.dropNext.CompareAndSwap(true, false) {
			p.mu.Lock()
			p.dropped++
			p.mu.Unlock()
			return
		}
		if _, err := client.Write(frame); err != nil {
			return
		}
	}
}

func (p *h2Proxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		for _, c := range conns {
			_ = c.Close()
		}
		return false
	}
	for _, c := range conns {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *h2Proxy) untrack(conns ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range conns {
		delete(p.conns, c)
	}
}

// close stops accepting, cuts every open connection and waits for the
// proxy's goroutines.
func (p *h2Proxy) close() {
	_ = p.lis.Close()
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
