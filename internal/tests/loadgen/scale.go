package main

import (
	"context"
	"io"
)

func scaleCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return nil
}
