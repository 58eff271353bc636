package main

// The JSON Schemas of docs/cli-json.md, checked against what the commands print: a validator
// for the part of JSON Schema (draft 2020-12) the document uses — it refuses any other keyword,
// so the document cannot promise what nothing checks.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/adv"
)

const cliJSONDoc = "../../docs/cli-json.md"

// schemas returns the schemas of docs/cli-json.md by $id.
func schemas(t *testing.T) map[string]map[string]any {
	t.Helper()
	b, err := os.ReadFile(cliJSONDoc)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]any{}
	for _, block := range regexp.MustCompile("(?s)```json\n(.*?)\n```").FindAllSubmatch(b, -1) {
		var s map[string]any
		d := json.NewDecoder(bytes.NewReader(block[1]))
		d.UseNumber()
		if err := d.Decode(&s); err != nil {
			t.Fatalf("%s: a json block does not parse: %v\n%s", cliJSONDoc, err, block[1])
		}
		id, _ := s["$id"].(string)
		if s["$schema"] != "https://json-schema.org/draft/2020-12/schema" || id == "" {
			t.Fatalf("%s: a json block without $schema 2020-12 or $id:\n%s", cliJSONDoc, block[1])
		}
		out[id] = s
	}
	return out
}

// validate checks v (decoded with UseNumber) against schema s of the document root; it
// returns the violations, each with its JSON path.
func validate(root, s map[string]any, v any, path string) []string {
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, path+": "+fmt.Sprintf(format, args...)) }
	for k, kw := range s {
		switch k {
		case "$schema", "$id", "title", "description", "examples", "$defs":
		case "$ref":
			ref, _ := kw.(string)
			name, ok := strings.CutPrefix(ref, "#/$defs/")
			defs, _ := root["$defs"].(map[string]any)
			def, _ := defs[name].(map[string]any)
			if !ok || def == nil {
				fail("unresolved $ref %q", ref)
				continue
			}
			errs = append(errs, validate(root, def, v, path)...)
		case "type":
			if !hasType(v, kw.(string)) {
				fail("%s is not of type %s", short(v), kw)
			}
		case "enum":
			if !slices.ContainsFunc(kw.([]any), func(e any) bool { return jsonEqual(e, v) }) {
				fail("%s is not one of %v", short(v), kw)
			}
		case "const":
			if !jsonEqual(kw, v) {
				fail("%s is not %v", short(v), kw)
			}
		case "pattern":
			if str, ok := v.(string); ok && !regexp.MustCompile(kw.(string)).MatchString(str) {
				fail("%q does not match %s", str, kw)
			}
		case "format":
			if str, ok := v.(string); ok && kw == "date-time" {
				if _, err := time.Parse(time.RFC3339Nano, str); err != nil {
					fail("%q is not a date-time: %v", str, err)
				}
			}
		case "minimum", "maximum":
			n, ok := v.(json.Number)
			if !ok {
				continue
			}
			x, _ := n.Float64()
			lim, _ := kw.(json.Number).Float64()
			if (k == "minimum" && x < lim) || (k == "maximum" && x > lim) {
				fail("%v is out of %s %v", n, k, lim)
			}
		case "required":
			if m, ok := v.(map[string]any); ok {
				for _, r := range kw.([]any) {
					if _, ok := m[r.(string)]; !ok {
						fail("required %q missing", r)
					}
				}
			}
		case "properties", "additionalProperties", "propertyNames":
			m, ok := v.(map[string]any)
			if !ok {
				continue
			}
			props, _ := s["properties"].(map[string]any)
			for name, val := range m {
				p := path + "." + name
				switch {
				case k == "propertyNames":
					errs = append(errs, validate(root, kw.(map[string]any), name, p+" (name)")...)
				case k == "properties" && props[name] != nil:
					errs = append(errs, validate(root, props[name].(map[string]any), val, p)...)
				case k == "additionalProperties" && props[name] == nil:
					switch ap := kw.(type) {
					case bool:
						if !ap {
							errs = append(errs, p+": not in the schema")
						}
					case map[string]any:
						errs = append(errs, validate(root, ap, val, p)...)
					}
				}
			}
		case "items":
			if a, ok := v.([]any); ok {
				for i, e := range a {
					errs = append(errs, validate(root, kw.(map[string]any), e, fmt.Sprintf("%s[%d]", path, i))...)
				}
			}
		default:
			fail("schema keyword %q: the test's validator does not check it", k)
		}
	}
	return errs
}

func hasType(v any, typ string) bool {
	switch v := v.(type) {
	case map[string]any:
		return typ == "object"
	case []any:
		return typ == "array"
	case string:
		return typ == "string"
	case bool:
		return typ == "boolean"
	case nil:
		return typ == "null"
	case json.Number:
		_, err := v.Int64()
		return typ == "number" || (typ == "integer" && err == nil)
	}
	return false
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func short(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 60 {
		return string(b[:60]) + "…"
	}
	return string(b)
}

// decodeLine decodes one output line as validate wants it.
func decodeLine(t *testing.T, line string) map[string]any {
	t.Helper()
	var v map[string]any
	d := json.NewDecoder(strings.NewReader(line))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		t.Fatalf("not a JSON object: %q: %v", line, err)
	}
	return v
}

// checkLines checks every line of a command's --json output against the schema named by pick
// (given the line and whether it is the last); stream says the last line is its summary.
func checkLines(t *testing.T, all map[string]map[string]any, args []string, out string, item, summary string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	for i, l := range lines {
		v := decodeLine(t, l)
		id := item
		if i == len(lines)-1 && summary != "" {
			id = summary
			if _, ok := v["summary"]; !ok {
				t.Errorf("gogatt %q: the last line is not a summary: %s", args, l)
			}
		}
		s := all[id]
		if s == nil {
			t.Fatalf("no schema %q in %s", id, cliJSONDoc)
		}
		for _, e := range validate(s, s, v, id) {
			t.Errorf("gogatt %q line %d: %s\n%s", args, i+1, e, l)
		}
	}
}

// TestJSONSchemaExamples: the document's schemas hold only keywords the validator checks, and
// each one's examples are valid.
func TestJSONSchemaExamples(t *testing.T) {
	all := schemas(t)
	for _, id := range []string{"scan-result", "scan-summary", "value", "subscribe-summary", "service-tree", "rssi", "rssi-summary", "sim", "sim-summary"} {
		s := all[id]
		if s == nil {
			t.Errorf("%s has no schema %q", cliJSONDoc, id)
			continue
		}
		ex, _ := s["examples"].([]any)
		if len(ex) == 0 {
			t.Errorf("schema %q has no examples", id)
		}
		for i, e := range ex {
			for _, err := range validate(s, s, e, fmt.Sprintf("%s examples[%d]", id, i)) {
				t.Error(err)
			}
		}
		// A wrong object is refused (the validator is not a no-op).
		if len(validate(s, s, map[string]any{"bogus": true}, id)) == 0 {
			t.Errorf("schema %q accepts {\"bogus\":true}", id)
		}
	}
}

// TestScanResultSchemaIsTheLibrarys: the scan-result schema lists exactly the JSON fields of
// gogatt.ScanResult and of its Data (adv.Data): the library is the one source of the shape, and
// a field it gains must be documented.
func TestScanResultSchemaIsTheLibrarys(t *testing.T) {
	s := schemas(t)["scan-result"]
	keys := func(m any) []string {
		var k []string
		for n := range m.(map[string]any) {
			k = append(k, n)
		}
		sort.Strings(k)
		return k
	}
	tags := func(typ reflect.Type) []string {
		var k []string
		for i := range typ.NumField() {
			f := typ.Field(i)
			n, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if n != "-" && f.IsExported() {
				k = append(k, n)
			}
		}
		sort.Strings(k)
		return k
	}
	props := s["properties"].(map[string]any)
	if got, want := keys(props), tags(reflect.TypeFor[gogatt.ScanResult]()); !slices.Equal(got, want) {
		t.Errorf("scan-result properties %v; gogatt.ScanResult has %v", got, want)
	}
	data := props["data"].(map[string]any)["properties"]
	if got, want := keys(data), tags(reflect.TypeFor[adv.Data]()); !slices.Equal(got, want) {
		t.Errorf("scan-result data properties %v; adv.Data has %v", got, want)
	}
}

// TestJSONOutputsMatchSchemas runs every command that prints JSON against the emulator and
// checks each line against its schema in docs/cli-json.md; each stream ends with its summary.
func TestJSONOutputsMatchSchemas(t *testing.T) {
	all := schemas(t)
	const stream = "7e57010d-0000-4000-8000-746f72747572"
	for _, tc := range []struct {
		args          []string
		item, summary string
	}{
		{[]string{"scan", "--duration", "1s"}, "scan-result", "scan-summary"},
		{[]string{"read", hrm, "2a19"}, "value", ""},
		{[]string{"read", torture, "handle:0x000c", "--long"}, "value", ""},
		{[]string{"write", hrm, "2a39", "01"}, "value", ""},
		{[]string{"write", torture, "7e570101-0000-4000-8000-746f72747572", "--long", strings.Repeat("ab", 30)}, "value", ""},
		{[]string{"subscribe", hrm, "2a37", "--count", "3"}, "value", "subscribe-summary"},
		{[]string{"subscribe", torture, stream, "--seq", "--count", "50"}, "value", "subscribe-summary"},
		{[]string{"services", thermo}, "service-tree", ""},
		{[]string{"rssi", hrm}, "rssi", ""},
		{[]string{"rssi", hrm, "--watch", "--count", "2", "--interval", "10ms"}, "rssi", "rssi-summary"},
	} {
		args := append([]string{"--sim", "--json"}, tc.args...)
		r := run(t, 0, args...)
		checkLines(t, all, args, r.stdout, tc.item, tc.summary)
	}
	// The streams that end on a signal.
	s := start(t, "sim", "--json")
	first := s.waitLine(t, `"port"`)
	if code, rest := s.interrupt(t); code != 0 {
		t.Errorf("sim --json: exit %d", code)
	} else {
		checkLines(t, all, []string{"sim", "--json"}, first+"\n"+rest+"\n", "sim", "sim-summary")
	}
	s = start(t, "scan", "--sim", "--json", "--duration", "1h")
	first = s.waitLine(t, `"address"`)
	if code, rest := s.interrupt(t); code != 0 {
		t.Errorf("scan --json: exit %d", code)
	} else {
		checkLines(t, all, []string{"scan", "--json"}, first+"\n"+rest+"\n", "scan-result", "scan-summary")
		if !strings.Contains(rest, `"end":"interrupted"`) {
			t.Errorf("scan --json after SIGINT: %s", rest)
		}
	}
}

// TestScanAndDemoSameShape: a scan result is the same object in `scan --json` and in `demo
// --json`: both decode into gogatt.ScanResult with no field left over, and marshalling that
// gives the line back — the library's shape, nothing added or renamed.
func TestScanAndDemoSameShape(t *testing.T) {
	// The library's own, for comparison: every field it has for a device.
	lib := func(line []byte) (fields []string) {
		var m map[string]json.RawMessage
		json.Unmarshal(line, &m)
		for k := range m {
			fields = append(fields, k)
		}
		sort.Strings(fields)
		return fields
	}
	roundTrip := func(what string, raw []byte) []string {
		t.Helper()
		d := json.NewDecoder(bytes.NewReader(raw))
		d.DisallowUnknownFields()
		var r gogatt.ScanResult
		if err := d.Decode(&r); err != nil {
			t.Errorf("%s does not decode into gogatt.ScanResult: %v\n%s", what, err, raw)
			return nil
		}
		back, _ := json.Marshal(r)
		var a, b any
		json.Unmarshal(raw, &a)
		json.Unmarshal(back, &b)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s is not gogatt.ScanResult's JSON:\n got %s\nlib %s", what, raw, back)
		}
		return lib(raw)
	}
	scanFields := map[string][][]string{} // address → field sets of its lines
	r := run(t, 0, "scan", "--sim", "--json", "--duration", "2s")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	for _, l := range lines[:len(lines)-1] {
		var a struct{ Address string }
		json.Unmarshal([]byte(l), &a)
		scanFields[a.Address] = append(scanFields[a.Address], roundTrip("scan --json line", []byte(l)))
	}
	r = run(t, 0, "demo", "--sim", "--json", "--scan", "2s", "--duration", "200ms")
	var step struct {
		Step    string
		Devices []json.RawMessage
	}
	for l := range strings.SplitSeq(strings.TrimSpace(r.stdout), "\n") {
		if json.Unmarshal([]byte(l), &step); step.Step == "scan" {
			break
		}
	}
	if step.Step != "scan" || len(step.Devices) == 0 {
		t.Fatalf("demo --json: no scan step with devices:\n%s", r.stdout)
	}
	compared := 0
	for _, raw := range step.Devices {
		f := roundTrip("demo --json device", raw)
		var a struct{ Address string }
		json.Unmarshal(raw, &a)
		if sets, ok := scanFields[a.Address]; ok {
			compared++
			if !slices.ContainsFunc(sets, func(s []string) bool { return slices.Equal(s, f) }) {
				t.Errorf("%s: demo --json has the fields %v, scan --json %v", a.Address, f, sets)
			}
		}
	}
	if compared == 0 {
		t.Errorf("no device in both scans: scan %v, demo %d devices", scanFields, len(step.Devices))
	}
}
