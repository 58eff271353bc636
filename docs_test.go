package gogatt_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestDocGoBlocks keeps the Go code in the documentation compiling: every ```go block of
// README.md and docs/*.md must be one of
//
//   - a whole file, starting with a package clause (after comments): it is compiled as it is, as
//     a package of this module, so it may import gogatt's packages;
//   - a fragment: any other block. It must be a run of consecutive lines of the body of an
//     Example function of this module (in any _test.go file), which go test compiles and, when
//     it has an "// Output:" comment, runs and checks. So a fragment is changed by changing its
//     Example and copying the lines.
//
// Lines are compared without their leading and trailing blanks, with each run of blanks inside
// them counted as one space, and blank lines are skipped: the indentation may differ, nothing
// else.
func TestDocGoBlocks(t *testing.T) {
	docs, err := filepath.Glob("docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	docs = append([]string{"README.md"}, docs...)
	var blocks []docBlock
	for _, name := range docs {
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		blocks = append(blocks, goBlocks(name, string(src))...)
	}
	if len(blocks) == 0 {
		t.Fatal("no ```go block found: is the test running in the module root?")
	}
	examples, err := exampleBodies(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range checkBlocks(t, ".", blocks, examples) {
		t.Error(p)
	}
}

// TestDocGoBlocksChecker shows that the checker catches what it should: a fragment found in no
// Example, a whole file that does not compile.
func TestDocGoBlocksChecker(t *testing.T) {
	md := "text\n\n```go\na := 1\nb := 2\n```\n\n```go\na := 1\nc := 3\n```\n\n```sh\nnot go\n```\n\n" +
		"```go\n// A file.\npackage main\n\nimport \"github.com/gogatt/gogatt\"\n\nfunc main() { _ = gogatt.UUID16(1) }\n```\n\n" +
		"```go\npackage main\n\nfunc main() { level := 1 }\n```\n"
	blocks := goBlocks("x.md", md)
	if len(blocks) != 4 {
		t.Fatalf("%d go blocks, want 4: %+v", len(blocks), blocks)
	}
	examples := map[string][]string{"ExampleX (x_test.go)": normLines("\tz := 0\n\n\ta  :=  1\n\tb := 2\n")}
	probs := checkBlocks(t, ".", blocks, examples)
	want := []string{
		`x.md:8: the go fragment is in no Example function; its line 2 "c := 3" breaks the longest match (ExampleX (x_test.go))`,
		`declared and not used: level`,
	}
	if len(probs) != len(want) {
		t.Fatalf("problems:\n%s\nwant %d", strings.Join(probs, "\n"), len(want))
	}
	for i, w := range want {
		if !strings.Contains(probs[i], w) {
			t.Errorf("problem %d = %q, want it to contain %q", i, probs[i], w)
		}
	}
	if !strings.HasPrefix(probs[1], "x.md:29: ") {
		t.Errorf("compile error not attributed to its block: %q", probs[1])
	}
}

// docBlock is one ```go block: the file, the line of its opening fence, the code.
type docBlock struct {
	file string
	line int
	code string
}

var fence = regexp.MustCompile("^(```+|~~~+)\\s*([A-Za-z0-9_+-]*)")

// goBlocks returns the fenced code blocks of a Markdown text whose info string is go or golang.
func goBlocks(name, md string) []docBlock {
	var out []docBlock
	lines := strings.Split(md, "\n")
	for i := 0; i < len(lines); i++ {
		m := fence.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		j := i + 1
		for j < len(lines) && !strings.HasPrefix(strings.TrimSpace(lines[j]), m[1]) {
			j++
		}
		if lang := strings.ToLower(m[2]); lang == "go" || lang == "golang" {
			out = append(out, docBlock{file: name, line: i + 1, code: strings.Join(lines[i+1:min(j, len(lines))], "\n")})
		}
		i = j
	}
	return out
}

var compilerMsg = regexp.MustCompile(`^(\d+):\d+: (.*)$`)

var blanks = regexp.MustCompile(`\s+`)

// normLines is the comparison form of code: lines trimmed, inner blanks collapsed, blank lines
// dropped.
func normLines(code string) []string {
	var out []string
	for _, l := range strings.Split(code, "\n") {
		if l = blanks.ReplaceAllString(strings.TrimSpace(l), " "); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// exampleBodies returns, in comparison form, the body of every Example function in the _test.go
// files under root, keyed by "Name (file)".
func exampleBodies(root string) (map[string][]string, error) {
	out := map[string][]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != root && (n == "testdata" || strings.HasPrefix(n, ".") || strings.HasPrefix(n, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, src, parser.ParseComments)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Recv != nil || fn.Body == nil || !strings.HasPrefix(fn.Name.Name, "Example") {
				continue
			}
			body := src[fset.Position(fn.Body.Lbrace).Offset+1 : fset.Position(fn.Body.Rbrace).Offset]
			out[fmt.Sprintf("%s (%s)", fn.Name.Name, path)] = normLines(string(body))
		}
		return nil
	})
	return out, err
}

// isFile reports whether code is a whole Go file: it starts with a package clause.
func isFile(code string) bool {
	f, err := parser.ParseFile(token.NewFileSet(), "", code, parser.PackageClauseOnly)
	return err == nil && f.Name != nil
}

// checkBlocks returns one message per block that breaks the rule of TestDocGoBlocks. Whole files
// are compiled with `go build` from module root moduleRoot, each placed (through an overlay, so
// nothing is written into the source tree) in a directory of its own.
func checkBlocks(t *testing.T, moduleRoot string, blocks []docBlock, examples map[string][]string) []string {
	t.Helper()
	var probs []string
	type fileBlock struct {
		b   docBlock
		tmp string
	}
	var files []fileBlock
	for _, b := range blocks {
		if isFile(b.code) {
			files = append(files, fileBlock{b: b})
			continue
		}
		frag := normLines(b.code)
		if len(frag) == 0 {
			probs = append(probs, fmt.Sprintf("%s:%d: empty go block", b.file, b.line))
			continue
		}
		best, bestName := 0, ""
		for name, ex := range examples {
			for i := range ex {
				n := 0
				for n < len(frag) && i+n < len(ex) && ex[i+n] == frag[n] {
					n++
				}
				if n > best || (n == best && bestName != "" && name < bestName) {
					best, bestName = n, name
				}
			}
		}
		if best < len(frag) {
			near := ""
			if bestName != "" && best > 0 {
				near = " (" + bestName + ")"
			}
			probs = append(probs, fmt.Sprintf("%s:%d: the go fragment is in no Example function; its line %d %q breaks the longest match%s",
				b.file, b.line, best+1, frag[best], near))
		}
	}
	if len(files) == 0 {
		return probs
	}

	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("compiling the whole-file go blocks: %v", err)
	}
	root, err := filepath.Abs(moduleRoot)
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	overlay := map[string]string{}
	var pkgs []string
	for i := range files {
		f := &files[i]
		f.tmp = filepath.Join(tmp, fmt.Sprintf("block%d.go", i))
		if err := os.WriteFile(f.tmp, []byte(f.b.code), 0o644); err != nil {
			t.Fatal(err)
		}
		dir := fmt.Sprintf("_docblock%d", i) // "_" directories are not part of ./...
		overlay[filepath.Join(root, dir, "main.go")] = f.tmp
		pkgs = append(pkgs, "./"+dir)
	}
	oj, err := json.Marshal(map[string]any{"Replace": overlay})
	if err != nil {
		t.Fatal(err)
	}
	ojPath := filepath.Join(tmp, "overlay.json")
	if err := os.WriteFile(ojPath, oj, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(goBin, append([]string{"build", "-o", filepath.Join(tmp, "bin") + string(filepath.Separator), "-overlay", ojPath}, pkgs...)...)
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if cmd.Run() == nil {
		return probs
	}
	// Attribute each compiler message to its block: the messages name the overlay's files, by
	// their path relative to the module root when that is shorter (a checkout next to the
	// temporary directory, as under /tmp).
	attributed := false
	for _, l := range strings.Split(out.String(), "\n") {
		for _, f := range files {
			rest, ok := strings.CutPrefix(l, f.tmp+":")
			if rel, err := filepath.Rel(root, f.tmp); !ok && err == nil {
				rest, ok = strings.CutPrefix(l, rel+":")
			}
			if ok {
				line, msg := 0, rest
				if m := compilerMsg.FindStringSubmatch(rest); m != nil {
					line, _ = strconv.Atoi(m[1])
					msg = m[2]
				}
				probs = append(probs, fmt.Sprintf("%s:%d: whole-file go block does not compile: %s", f.b.file, f.b.line+line, msg))
				attributed = true
			}
		}
	}
	if !attributed {
		probs = append(probs, "compiling the whole-file go blocks: "+out.String())
	}
	return probs
}
