package cli

import (
	"encoding/json"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionText(t *testing.T) {
	platform := runtime.GOOS + "/" + runtime.GOARCH
	vcs := func(rev, tm, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.time", Value: tm}, {Key: "vcs.modified", Value: modified}}
	}
	tests := []struct {
		name string
		bi   *debug.BuildInfo
		want string
	}{
		{"no build info", nil, "gogatt (unknown)\n" +
			"  revision:    unknown (built without VCS information: go run, or go build -buildvcs=false)\n" +
			"  go:          " + runtime.Version() + " " + platform + "\n"},
		{"go run in a checkout", &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Path: "github.com/gogatt/gogatt", Version: "(devel)"}}, "gogatt (devel)\n" +
			"  revision:    unknown (built without VCS information: go run, or go build -buildvcs=false)\n" +
			"  go:          go1.26.1 " + platform + "\n"},
		{"go build in a modified checkout", &debug.BuildInfo{
			GoVersion: "go1.26.1",
			Main:      debug.Module{Version: "v0.0.0-20260501100000-0123456789ab+dirty"},
			Settings:  append(vcs("0123456789abcdef0123456789abcdef01234567", "2026-05-01T10:00:00Z", "true"), debug.BuildSetting{Key: "GOOS", Value: "windows"}, debug.BuildSetting{Key: "GOARCH", Value: "amd64"}),
		}, "gogatt v0.0.0-20260501100000-0123456789ab+dirty\n" +
			"  revision:    0123456789abcdef0123456789abcdef01234567 (modified: built with uncommitted changes)\n" +
			"  commit time: 2026-05-01T10:00:00Z\n" +
			"  go:          go1.26.1 windows/amd64\n"},
		{"go install of a release", &debug.BuildInfo{
			GoVersion: "go1.26.1",
			Main:      debug.Module{Version: "v1.2.3"},
			Settings:  vcs("fedcba9876543210fedcba9876543210fedcba98", "2026-06-01T00:00:00Z", "false"),
		}, "gogatt v1.2.3\n" +
			"  revision:    fedcba9876543210fedcba9876543210fedcba98\n" +
			"  commit time: 2026-06-01T00:00:00Z\n" +
			"  go:          go1.26.1 " + platform + "\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := versionOf(tc.bi).text(); got != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

// `gogatt version` and `gogatt --version` print the same, in text and JSON; no adapter is
// opened.
func TestVersionCommand(t *testing.T) {
	bi, _ := debug.ReadBuildInfo()
	base := versionOf(bi).text()
	for _, args := range [][]string{{"version"}, {"--version"}, {"--sim", "--version"}} {
		// The backend line: chosen (this Env has no probe), or given (--sim implies bgapi).
		want := base + "  backend:     bgapi (no probe in this build)\n"
		if args[0] == "--sim" {
			want = base + "  backend:     bgapi (given)\n"
		}
		r := run(t, nil, args...)
		if r.code != ExitOK || r.stdout != want || r.stderr != "" {
			t.Errorf("gogatt %q: exit %d, stdout %q, stderr %q; want 0, %q", args, r.code, r.stdout, r.stderr, want)
		}
	}
	for _, args := range [][]string{{"version", "--json"}, {"--json", "--version"}} {
		r := run(t, nil, args...)
		var v buildVersion
		want := versionOf(bi)
		want.Backend, want.BackendWhy = "bgapi", "no probe in this build"
		if err := json.Unmarshal([]byte(r.stdout), &v); r.code != ExitOK || err != nil || v != want {
			t.Errorf("gogatt %q: exit %d, %q (%v)", args, r.code, r.stdout, err)
		}
	}
	if r := run(t, nil, "version", "extra"); r.code != ExitUsage || !strings.Contains(r.stderr, "no arguments") {
		t.Errorf("gogatt version extra: exit %d, %q", r.code, r.stderr)
	}
}
