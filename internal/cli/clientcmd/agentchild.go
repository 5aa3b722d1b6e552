package clientcmd

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// child is the agent's --exec command.
type child struct {
	cmd    *exec.Cmd
	exited chan struct{}
	state  *os.ProcessState
}

// agentCredentialVars are the agent's own credentials, which its command
// must not inherit: it gets the ZeroTier token through the sinks only.
var agentCredentialVars = map[string]bool{
	"BROKER_API_KEY":                 true,
	"ACTIONS_ID_TOKEN_REQUEST_TOKEN": true,
	"ACTIONS_ID_TOKEN_REQUEST_URL":   true,
}

// startChild runs command through /bin/sh as `exec command`, so that the
// shell gives way to the command and signals reach it directly. The
// command gets the agent's environment less its credentials, and never
// the token: it reads the sinks.
func startChild(command string, env Env, stderr io.Writer) (*child, error) {
	cmd := exec.Command("/bin/sh", "-c", "exec "+command)
	for _, kv := range childEnviron(env.Environ, nil, nil) {
		if name, _, _ := strings.Cut(kv, "="); !agentCredentialVars[name] {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = env.Stdin, env.Stdout, stderr
	if f, ok := env.Stderr.(*os.File); ok {
		cmd.Stderr = f
	}
	cmd.WaitDelay = childIODelay
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		c.state = cmd.ProcessState
		close(c.exited)
	}()
	return c, nil
}

// done is closed when the command has exited; nil (never ready) without a
// command.
func (c *child) done() <-chan struct{} {
	if c == nil {
		return nil
	}
	return c.exited
}

func (c *child) signal(sig os.Signal) {
	if c != nil {
		_ = c.cmd.Process.Signal(sig)
	}
}

// stop sends sig and waits for the command to exit, killing it when it
// has not after timeout.
func (c *child) stop(sig os.Signal, timeout time.Duration, clock Clock) error {
	if c == nil {
		return nil
	}
	select {
	case <-c.exited:
		return nil
	default:
	}
	c.signal(sig)
	select {
	case <-c.exited:
		return nil
	case <-clock.After(timeout):
	}
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.exited
	return fmt.Errorf("the command did not exit within %s of %v and was killed", timeout, sig)
}
