package gogatt_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestReliabilityMatrixNamesTests checks that every test docs/reliability.md names as proof of a
// promise exists, so that the fault matrix cannot point at a test that was renamed or removed.
func TestReliabilityMatrixNamesTests(t *testing.T) {
	doc, err := os.ReadFile("docs/reliability.md")
	if err != nil {
		t.Fatal(err)
	}
	// `pkg.TestName` or `pkg.TestName/subtest`, pkg being a package's last path element.
	cited := regexp.MustCompile("`([a-z/]+)\\.((?:Test|Fuzz)[A-Za-z0-9_]+)(?:/[^`]*)?`").FindAllStringSubmatch(string(doc), -1)
	if len(cited) < 40 {
		t.Fatalf("docs/reliability.md names %d tests; the matrix lost its rows?", len(cited))
	}
	defined := map[string]bool{} // "pkg.TestName", pkg = last element of the package's directory (cmd/gogatt: e2e)
	decl := regexp.MustCompile(`(?m)^func ((?:Test|Fuzz)[A-Za-z0-9_]+)\(`)
	err = filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		dir := filepath.ToSlash(filepath.Dir(path))
		pkg := filepath.Base(dir)
		switch dir {
		case "cmd/gogatt":
			pkg = "e2e"
		case "gatttool/internal/parse":
			pkg = "gatttool/internal/parse"
		}
		for _, m := range decl.FindAllStringSubmatch(string(src), -1) {
			defined[pkg+"."+m[1]] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cited {
		if name := c[1] + "." + c[2]; !defined[name] {
			t.Errorf("docs/reliability.md cites %s, which does not exist", name)
		}
	}
}
