package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gogatt/gogatt"
)

// --passkey reaches the adapter as its passkey callbacks: a fixed number, or a line of standard
// input for "ask"; the passkey the adapter shows is printed on stderr. Without --passkey there
// are none (Just Works).
func TestPasskeyCallbacks(t *testing.T) {
	for _, tc := range []struct {
		name, passkey, stdin string
		want                 uint32
		err                  bool
	}{
		{"none", "", "", 0, false},
		{"fixed", "012345", "", 12345, false},
		{"ask", "ask", " 654321 \nrest\n", 654321, false},
		{"ask, last line without newline", "ask", "7", 7, false},
		{"ask, empty input", "ask", "", 0, true},
		{"ask, not a number", "ask", "abc\n", 0, true},
		{"ask, too large", "ask", "1000000\n", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got BackendConfig
			var out, errb bytes.Buffer
			env := testEnv(newFake(), &out, &errb)
			env.Stdin = strings.NewReader(tc.stdin)
			open := env.Open
			env.Open = func(ctx context.Context, c BackendConfig) (gogatt.Backend, error) {
				got = c
				return open(ctx, c)
			}
			args := []string{"bond", hrmAddr}
			if tc.passkey != "" {
				args = append(args, "--passkey", tc.passkey)
			}
			if code := Run(context.Background(), env, args); code != 0 {
				t.Fatalf("exit %d: %s", code, errb.String())
			}
			if tc.passkey == "" {
				if got.Passkey != nil || got.PasskeyDisplay != nil {
					t.Fatal("passkey callbacks without --passkey")
				}
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			pk, err := got.Passkey(ctx, hrmAddr)
			if (err != nil) != tc.err || (err == nil && pk != tc.want) {
				t.Fatalf("Passkey = %d, %v; want %d (error %v)", pk, err, tc.want, tc.err)
			}
			if err != nil && !errors.Is(err, gogatt.ErrInvalidParameter) {
				t.Errorf("error %v does not match ErrInvalidParameter", err)
			}
			errb.Reset()
			got.PasskeyDisplay(ctx, hrmAddr, 42)
			if want := "Passkey for " + hrmAddr + ": 000042 (type it on the device)\n"; errb.String() != want {
				t.Errorf("display: %q, want %q", errb.String(), want)
			}
		})
	}
}

// A passkey asked for while standard input stays silent gives up when the pairing does.
func TestPasskeyAskEndsWithPairing(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	a := &app{env: Env{Stdin: pr, Stderr: io.Discard, IsTerminal: func(*os.File) bool { return false }}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := a.askPasskey(ctx, hrmAddr); !errors.Is(err, context.Canceled) {
		t.Fatalf("askPasskey after the pairing ended: %v", err)
	}
	pw.Close() // ends the reader left behind
}

func TestPasskeyUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"bond", hrmAddr, "--passkey", "1234567"}, "want a number from 0 to 999999"},
		{[]string{"bond", hrmAddr, "--passkey", "12a"}, "want a number from 0 to 999999"},
		{[]string{"bond", hrmAddr, "--passkey", "1", "--backend", "gatttool"}, "--passkey works with --backend bgapi"},
		{[]string{"clear-bond"}, "give the ADDRESS of the bond to remove, or --all"},
		{[]string{"clear-bond", "--all", hrmAddr}, "not both"},
	} {
		r := run(t, newFake(), tc.args...)
		if r.code != ExitUsage || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want %d and %q", tc.args, r.code, r.stderr, ExitUsage, tc.want)
		}
	}
}

// --passkey answers a numeric comparison too: N confirms the number N only, "ask" asks for
// yes or no on standard input; without --passkey there is no callback.
func TestConfirmCallback(t *testing.T) {
	for _, tc := range []struct {
		name, passkey, stdin string
		shown                uint32
		ok                   bool
	}{
		{"fixed, same number", "012345", "", 12345, true},
		{"fixed, other number", "012345", "", 12346, false},
		{"ask, yes", "ask", "y\n", 7, true},
		{"ask, YES", "ask", " YES \n", 7, true},
		{"ask, no", "ask", "n\n", 7, false},
		{"ask, empty line", "ask", "\n", 7, false},
		{"ask, no input", "ask", "", 7, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var errb bytes.Buffer
			a := &app{env: Env{Stdin: strings.NewReader(tc.stdin), Stderr: &errb, IsTerminal: func(*os.File) bool { return false }}}
			a.g.passkey = tc.passkey
			confirm := a.confirmCallback()
			err := confirm(context.Background(), hrmAddr, tc.shown)
			if (err == nil) != tc.ok {
				t.Fatalf("Confirm(%06d) = %v, want ok %v", tc.shown, err, tc.ok)
			}
			if wantInvalid := tc.passkey == passkeyAsk && tc.stdin == ""; errors.Is(err, gogatt.ErrInvalidParameter) != wantInvalid {
				t.Errorf("error %v: matches ErrInvalidParameter %v, want %v (only when there is nothing to read)", err, !wantInvalid, wantInvalid)
			}
			if tc.passkey == passkeyAsk && !strings.Contains(errb.String(), "Does "+hrmAddr+" show 000007? [y/N]") {
				t.Errorf("prompt: %q", errb.String())
			}
		})
	}
	if (&app{}).confirmCallback() != nil {
		t.Error("a Confirm callback without --passkey")
	}
	// A question left unanswered gives up when the pairing does.
	pr, pw := io.Pipe()
	defer pw.Close()
	a := &app{env: Env{Stdin: pr, Stderr: io.Discard}}
	a.g.passkey = passkeyAsk
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := a.confirmCallback()(ctx, hrmAddr, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("Confirm with the pairing ended: %v", err)
	}
}
