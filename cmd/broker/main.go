// Command broker is the ztbroker server, its development mode, a ZeroTier
// emulator and the client commands, in one binary.
package main

import (
	"context"
	"os"

	"github.com/ztbroker/ztbroker/internal/cli"
)

func main() {
	os.Exit(cli.Main(context.Background(), os.Args[1:], cli.OS()))
}
