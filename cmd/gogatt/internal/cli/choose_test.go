package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/gogatt/gogatt"
)

// TestDefaultBackend: without --backend the command asks Env.Choose and uses its answer (and
// logs it with -v); a flag that only one backend has (--sim, --port, --acquire-notify)
// decides without asking; --backend given is never second-guessed.
func TestDefaultBackend(t *testing.T) {
	tests := []struct {
		args   []string
		chosen string // what Choose answers
		asked  bool
		kind   string // what Open gets
	}{
		{[]string{"read", hrmAddr, "180f/2a19"}, "bluez", true, "bluez"},
		{[]string{"read", hrmAddr, "180f/2a19"}, "bgapi", true, "bgapi"},
		{[]string{"read", "--backend", "gatttool", hrmAddr, "180f/2a19"}, "bluez", false, "gatttool"},
		{[]string{"read", "--backend", "bgapi", hrmAddr, "180f/2a19"}, "bluez", false, "bgapi"},
		{[]string{"read", "--sim", hrmAddr, "180f/2a19"}, "bluez", false, "bgapi"},
		{[]string{"read", "--port", "/dev/ttyACM0", hrmAddr, "180f/2a19"}, "bluez", false, "bgapi"},
		{[]string{"read", "--acquire-notify", hrmAddr, "180f/2a19"}, "bgapi", false, "bluez"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " ")+" → "+tc.chosen, func(t *testing.T) {
			var out, errb bytes.Buffer
			env := testEnv(newFake(), &out, &errb)
			open := env.Open
			var got BackendConfig
			env.Open = func(ctx context.Context, c BackendConfig) (gogatt.Backend, error) {
				got = c
				return open(ctx, c)
			}
			asked := false
			env.Choose = func(context.Context) (string, string) {
				asked = true
				return tc.chosen, "because the test says so"
			}
			if code := Run(context.Background(), env, append([]string{"-v"}, tc.args...)); code != ExitOK {
				t.Fatalf("exit %d: %s", code, errb.String())
			}
			if asked != tc.asked || got.Kind != tc.kind {
				t.Errorf("Choose asked %v, Open got %q; want %v, %q", asked, got.Kind, tc.asked, tc.kind)
			}
			if logged := strings.Contains(errb.String(), "because the test says so"); logged != tc.asked {
				t.Errorf("choice logged %v, want %v: %s", logged, tc.asked, errb.String())
			}
		})
	}
}
