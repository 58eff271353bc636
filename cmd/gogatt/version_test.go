package main

import (
	"os/exec"
	"runtime"
	"strings"
	"testing"
)

// The binary reports the version, revision and toolchain the go command reads from it
// (go version -m): "(devel)" and no revision when it was built without VCS information (as
// with GOFLAGS=-buildvcs=false), the stamped revision otherwise.
func TestVersion(t *testing.T) {
	out, err := exec.Command("go", "version", "-m", bin).Output() // go test puts its go first in PATH
	if err != nil {
		t.Fatalf("go version -m: %v", err)
	}
	version, settings := "", map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Split(strings.TrimSpace(line), "\t")
		switch {
		case len(f) >= 3 && f[0] == "mod":
			version = f[2]
		case len(f) == 2 && f[0] == "build":
			if k, v, ok := strings.Cut(f[1], "="); ok {
				settings[k] = v
			}
		}
	}
	goVersion, _, _ := strings.Cut(string(out), "\n")
	goVersion = goVersion[strings.LastIndex(goVersion, " ")+1:]
	want := []string{"gogatt " + version + "\n", "  go:          " + goVersion + " " + runtime.GOOS + "/" + runtime.GOARCH + "\n"}
	if rev := settings["vcs.revision"]; rev != "" {
		want = append(want, "  revision:    "+rev)
		if settings["vcs.modified"] == "true" {
			want = append(want, "(modified")
		}
	} else {
		want = append(want, "  revision:    unknown")
	}
	text := run(t, 0, "version").stdout
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("gogatt version:\n%s\nlacks %q (go version -m says:\n%s)", text, w, out)
		}
	}
	if !strings.HasPrefix(text, "gogatt "+version+"\n") {
		t.Errorf("gogatt version does not start with the module version %q:\n%s", version, text)
	}
	if flag := run(t, 0, "--version").stdout; flag != text {
		t.Errorf("gogatt --version:\n%s\ndiffers from gogatt version:\n%s", flag, text)
	}
}
