package sim

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
)

var updateDocs = flag.Bool("update", false, "rewrite the generated part of docs/sim.md")

const (
	docsPath  = "../docs/sim.md"
	beginMark = "<!-- BEGIN GENERATED: go test ./sim -run TestDocs -update -->\n"
	endMark   = "<!-- END GENERATED -->\n"
)

func generatedDocs() string {
	var b strings.Builder
	for _, p := range DemoPeripherals(1) {
		fmt.Fprintf(&b, "### %s — %v\n\n", p.Name(), p.Address())
		fmt.Fprintf(&b, "Advertising data: `% x`  \nScan response: `% x`\n\n", p.AdvertisingData(), p.ScanResponseData())
		b.WriteString(p.CharacteristicTable())
		fmt.Fprintf(&b, "\n<details><summary>All %d attributes of %s</summary>\n\n", len(p.db().attrs), p.Name())
		b.WriteString(p.HandleTable())
		b.WriteString("\n</details>\n\n")
	}
	return b.String()
}

// TestDocs keeps the handle tables in docs/sim.md in step with the demo databases.
func TestDocs(t *testing.T) {
	raw, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	i, j := strings.Index(doc, beginMark), strings.Index(doc, endMark)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the generated-section markers", docsPath)
	}
	want := generatedDocs()
	if got := doc[i+len(beginMark) : j]; got != want {
		if !*updateDocs {
			t.Fatalf("%s is stale: run go test ./sim -run TestDocs -update", docsPath)
		}
		doc = doc[:i+len(beginMark)] + want + doc[j:]
		if err := os.WriteFile(docsPath, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
