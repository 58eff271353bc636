package main

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The torture device's characteristics that need an encrypted and an authenticated link
// (sim.TortureEncrypted, sim.TortureAuthenticated).
const (
	encryptedChar     = "7e570103-0000-4000-8000-746f72747572"
	authenticatedChar = "7e570104-0000-4000-8000-746f72747572"
)

// TestBondAcrossProcesses: bonds are the dongle's, as on a real BLED112 (in flash), so every
// step is a separate gogatt process on the port of a `gogatt sim` process. A bond made by one
// run encrypts the links of the next ones; clear-bond ADDRESS removes it from a run that never
// connected to the device; the error hints name the command line that helps, and following
// them works — including for a characteristic that needs an authenticated (MITM) bond, where
// bonding again without a passkey would not help.
func TestBondAcrossProcesses(t *testing.T) {
	s := start(t, "sim")
	path := s.waitLine(t, `.`)
	p := func(args ...string) []string { return append([]string{"--port", path}, args...) }
	hint := func(r res, want ...string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
			}
		}
	}

	r := run(t, 6, p("read", torture, encryptedChar)...)
	hint(r, "Insufficient Encryption", "add --bond, or run 'gogatt bond "+torture+"' once")
	if r = run(t, 0, p("bond", torture)...); r.stdout != "bonded with "+torture+"\n" {
		t.Errorf("bond: %q", r.stdout)
	}
	if r = run(t, 0, p("read", torture, encryptedChar, "--format", "utf8")...); r.stdout != "secret\n" {
		t.Errorf("encrypted read in the run after bond: %q", r.stdout)
	}
	if r = run(t, 0, p("clear-bond", torture)...); r.stdout != "removed the bond with "+torture+"\n" {
		t.Errorf("clear-bond: %q", r.stdout)
	}
	r = run(t, 6, p("read", torture, encryptedChar)...)
	hint(r, "Insufficient Encryption", "gogatt bond "+torture)
	r = run(t, 4, p("clear-bond", torture)...)
	hint(r, "'gogatt clear-bond --all'")
	r = run(t, 2, p("clear-bond")...)
	hint(r, "or --all")

	// Authentication: a Just Works bond does not give it, and the hint does not say --bond
	// again but what does help.
	r = run(t, 6, p("read", "--bond", torture, authenticatedChar)...)
	hint(r, "Insufficient Authentication", "add --bond --passkey N", "'gogatt clear-bond "+torture+"'")
	if strings.Contains(r.stderr, "add --bond,") || strings.Contains(r.stderr, "add --bond to") {
		t.Errorf("the hint loops back to --bond: %s", r.stderr)
	}
	r = run(t, 6, p("read", "--bond", "--passkey", "123456", torture, authenticatedChar)...)
	hint(r, "made without MITM protection", "'gogatt clear-bond "+torture+"'")
	run(t, 0, p("clear-bond", torture)...)
	if r = run(t, 0, p("read", "--bond", "--passkey", "123456", torture, authenticatedChar, "--format", "utf8")...); r.stdout != "top secret\n" {
		t.Errorf("authenticated read with --passkey: %q", r.stdout)
	}
	if r = run(t, 0, p("read", torture, authenticatedChar, "--format", "utf8")...); r.stdout != "top secret\n" {
		t.Errorf("authenticated read in the next run, no flags: %q", r.stdout)
	}

	// --passkey ask reads the passkey from standard input when it is not a terminal.
	run(t, 0, p("clear-bond", "--all")...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, p("bond", "--passkey", "ask", torture)...)
	cmd.Stdin = strings.NewReader("123456\n")
	if out, err := cmd.CombinedOutput(); err != nil || string(out) != "bonded with "+torture+"\n" {
		t.Errorf("bond --passkey ask with the passkey on stdin: %v\n%s", err, out)
	}
	if r = run(t, 0, p("read", torture, authenticatedChar, "--format", "utf8")...); r.stdout != "top secret\n" {
		t.Errorf("authenticated read after bond --passkey ask: %q", r.stdout)
	}
	run(t, 0, p("clear-bond", "--all")...)
	r = run(t, 2, p("bond", "--passkey", "ask", torture)...) // stdin: none (/dev/null)
	hint(r, "pass --passkey N")
	run(t, 2, p("bond", "--passkey", "1234567", torture)...)

	if code, _ := s.interrupt(t); code != 0 {
		t.Errorf("sim exit %d after Ctrl-C; stderr %s", code, s.stderr)
	}
}

// TestPasskeyPrompt: on a terminal, --passkey ask prompts for the passkey when the device asks
// for one, and the bond it makes is authenticated.
func TestPasskeyPrompt(t *testing.T) {
	s := start(t, "sim")
	path := s.waitLine(t, `.`)
	const width = 120
	pp := startPTY(t, width, "bond", "--port", path, "--passkey", "ask", torture)
	pp.waitFor(t, width, `(?m)^Passkey shown by `+torture+`:`)
	if _, err := pp.tty.Write([]byte("123456\r")); err != nil {
		t.Fatal(err)
	}
	pp.waitFor(t, width, `(?m)^bonded with `+torture+`$`)
	if code := pp.wait(t); code != 0 {
		t.Fatalf("exit %d:\n%q", code, pp.output())
	}
	if r := run(t, 0, "read", "--port", path, torture, authenticatedChar, "--format", "utf8"); r.stdout != "top secret\n" {
		t.Errorf("authenticated read after the prompt: %q", r.stdout)
	}
	if code, _ := s.interrupt(t); code != 0 {
		t.Errorf("sim exit %d after Ctrl-C; stderr %s", code, s.stderr)
	}
}
