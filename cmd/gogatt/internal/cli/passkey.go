package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/gogatt/gogatt"
)

// passkeyAsk is the --passkey value that asks for the passkey when the device wants one.
const passkeyAsk = "ask"

const passkeyHelp = "pair with MITM protection (for characteristics that need authentication) using passkey `N` (6 digits, shown by the device or printed on it), or 'ask' to type it when asked (bgapi, bluez)"

// parsePasskey checks a --passkey value: "" (none), "ask", or 0–999999.
func parsePasskey(s string) error {
	if s == "" || s == passkeyAsk {
		return nil
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n > 999999 {
		return fmt.Errorf("--passkey %q: want a number from 0 to 999999, or %q", s, passkeyAsk)
	}
	return nil
}

// passkeyCallbacks returns what the adapter calls when pairing needs a passkey: nil, nil
// without --passkey (pairing is then Just Works, without MITM protection).
func (a *app) passkeyCallbacks() (enter func(ctx context.Context, address string) (uint32, error), show func(ctx context.Context, address string, passkey uint32)) {
	if a.g.passkey == "" {
		return nil, nil
	}
	show = func(_ context.Context, address string, passkey uint32) {
		fmt.Fprintf(a.env.Stderr, "Passkey for %s: %06d (type it on the device)\n", address, passkey)
	}
	if a.g.passkey != passkeyAsk {
		n, _ := strconv.ParseUint(a.g.passkey, 10, 32) // checked by parsePasskey
		return func(context.Context, string) (uint32, error) { return uint32(n), nil }, show
	}
	return a.askPasskey, show
}

// confirmCallback returns what the adapter calls for a numeric comparison (LE Secure
// Connections, Core v5.3 Vol 3 Part H §2.3.5.6.2): both sides show the same six digits and the
// user says whether they match. --passkey N accepts the number N only; --passkey ask asks on
// standard input. Nil without --passkey.
func (a *app) confirmCallback() func(ctx context.Context, address string, passkey uint32) error {
	switch a.g.passkey {
	case "":
		return nil
	case passkeyAsk:
		return a.askConfirm
	}
	n, _ := strconv.ParseUint(a.g.passkey, 10, 32) // checked by parsePasskey
	return func(_ context.Context, address string, passkey uint32) error {
		if uint64(passkey) != n {
			return fmt.Errorf("%s shows %06d, not the --passkey %06d: not confirmed", address, passkey, n)
		}
		return nil
	}
}

// askConfirm asks on standard input whether the number the device shows is passkey: "y" or
// "yes" confirms. It gives up when ctx ends (the pairing did).
func (a *app) askConfirm(ctx context.Context, address string, passkey uint32) error {
	if a.env.Stdin == nil {
		return fmt.Errorf("%s asks to compare %06d and there is no standard input: pass --passkey %06d: %w", address, passkey, passkey, gogatt.ErrInvalidParameter)
	}
	fmt.Fprintf(a.env.Stderr, "Does %s show %06d? [y/N] ", address, passkey)
	line, err := a.readLine(ctx)
	if err != nil {
		return fmt.Errorf("comparing the number of %s: %w", address, err)
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return nil
	}
	return fmt.Errorf("%06d not confirmed for %s", passkey, address)
}

// readLine is one line of standard input, or ctx's error if ctx ends first.
func (a *app) readLine(ctx context.Context) (string, error) {
	type answer struct {
		line string
		err  error
	}
	ch := make(chan answer, 1)
	go func() { // left behind if ctx ends first: standard input cannot be interrupted
		line, err := a.stdinLine()
		ch <- answer{line, err}
	}()
	select {
	case ans := <-ch:
		if strings.TrimSpace(ans.line) == "" && ans.err != nil {
			return "", fmt.Errorf("nothing on standard input (%v): %w", ans.err, gogatt.ErrInvalidParameter)
		}
		return ans.line, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// askPasskey reads the passkey the device shows from standard input: a prompt on stderr when
// stdin is a terminal, then one line. It gives up when ctx ends (the pairing did).
func (a *app) askPasskey(ctx context.Context, address string) (uint32, error) {
	if a.env.Stdin == nil {
		return 0, fmt.Errorf("%s asks for a passkey and there is no standard input: pass --passkey N: %w", address, gogatt.ErrInvalidParameter)
	}
	if a.env.StdinFile != nil && a.env.IsTerminal(a.env.StdinFile) {
		fmt.Fprintf(a.env.Stderr, "Passkey shown by %s: ", address)
	}
	line, err := a.readLine(ctx)
	switch {
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		return 0, fmt.Errorf("passkey entry: %w", err)
	case err != nil:
		return 0, fmt.Errorf("%s asks for a passkey: %w: pass --passkey N", address, err)
	}
	line = strings.TrimSpace(line)
	n, err := strconv.ParseUint(line, 10, 32)
	if err != nil || n > 999999 {
		return 0, fmt.Errorf("passkey %q: want a number from 0 to 999999: %w", line, gogatt.ErrInvalidParameter)
	}
	return uint32(n), nil
}

// stdinLine reads one line of standard input (one reader for the whole run, so that nothing
// read ahead is lost between two passkeys).
func (a *app) stdinLine() (string, error) {
	a.stdinOnce.Do(func() { a.stdin = bufio.NewReader(a.env.Stdin) })
	a.stdinMu.Lock()
	defer a.stdinMu.Unlock()
	s, err := a.stdin.ReadString('\n')
	if err == nil || (err == io.EOF && s != "") {
		return s, nil
	}
	return s, err
}

// stdinState is the app's standard-input reader, made on first use.
type stdinState struct {
	stdinOnce sync.Once
	stdinMu   sync.Mutex
	stdin     *bufio.Reader
}

// syncWriter serialises writes: the adapter's passkey callbacks print from goroutines of their
// own while a command prints.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
