package clientcmd

import (
	"os"
	"runtime"
	"testing"
)

func TestIsTerminal(t *testing.T) {
	t.Parallel()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if isTerminal(r.Fd()) {
		t.Error("a pipe is reported as a terminal")
	}
	if runtime.GOOS != "linux" {
		return
	}
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal to test with: %v", err)
	}
	defer ptmx.Close()
	if !isTerminal(ptmx.Fd()) {
		t.Error("a pseudo-terminal is not reported as a terminal")
	}
}
