package cli

import (
	"cmp"
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// buildVersion is what `gogatt version` prints, from the build information the Go toolchain
// embeds in the binary (runtime/debug.ReadBuildInfo).
type buildVersion struct {
	// Version is the module version: a release tag (v1.2.3), a pseudo-version stamped from the
	// checkout ("+dirty" when it had uncommitted changes), or "(devel)" when the toolchain
	// stamped none (go run, -buildvcs=false).
	Version string `json:"version"`
	// Revision, Time and Modified describe the checkout the binary was built from (the
	// vcs.revision, vcs.time and vcs.modified settings); empty and false without VCS
	// information.
	Revision string `json:"revision,omitempty"`
	Time     string `json:"time,omitempty"`
	Modified bool   `json:"modified"`
	// Go is the toolchain that built the binary; Platform its GOOS/GOARCH.
	Go       string `json:"go"`
	Platform string `json:"platform"`
	// Backend is the backend a command of the same flags would use; BackendWhy what chose it
	// ("given" for --backend or a flag that implies one).
	Backend    string `json:"backend,omitempty"`
	BackendWhy string `json:"backend_why,omitempty"`
}

// versionOf extracts the version from build information (nil when the binary has none).
func versionOf(bi *debug.BuildInfo) buildVersion {
	v := buildVersion{Version: "(unknown)", Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi == nil {
		return v
	}
	if bi.Main.Version != "" {
		v.Version = bi.Main.Version
	}
	if bi.GoVersion != "" {
		v.Go = bi.GoVersion
	}
	goos, goarch := runtime.GOOS, runtime.GOARCH
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.time":
			v.Time = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		case "GOOS":
			goos = s.Value
		case "GOARCH":
			goarch = s.Value
		}
	}
	v.Platform = goos + "/" + goarch
	return v
}

// text is the human-readable form: the version on the first line, then one line per detail.
func (v buildVersion) text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "gogatt %s\n", v.Version)
	switch {
	case v.Revision == "":
		b.WriteString("  revision:    unknown (built without VCS information: go run, or go build -buildvcs=false)\n")
	case v.Modified:
		fmt.Fprintf(&b, "  revision:    %s (modified: built with uncommitted changes)\n", v.Revision)
	default:
		fmt.Fprintf(&b, "  revision:    %s\n", v.Revision)
	}
	if v.Time != "" {
		fmt.Fprintf(&b, "  commit time: %s\n", v.Time)
	}
	fmt.Fprintf(&b, "  go:          %s %s\n", v.Go, v.Platform)
	if v.Backend != "" {
		fmt.Fprintf(&b, "  backend:     %s (%s)\n", v.Backend, v.BackendWhy)
	}
	return b.String()
}

// runVersion prints the version of the running binary (`gogatt version`, `gogatt --version`).
func runVersion(ctx context.Context, a *app, _ []string) error {
	bi, _ := debug.ReadBuildInfo()
	v := versionOf(bi)
	a.resolveBackend(ctx)
	v.Backend, v.BackendWhy = a.g.backend, cmp.Or(a.backendWhy, "given") // why: only when chosen
	if a.g.json {
		a.emit(v)
		return nil
	}
	a.printf("%s", v.text())
	return nil
}
