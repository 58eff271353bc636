package main

import (
	"bytes"
	"os"
	"testing"
)

// TestGeneratedFileUpToDate fails when ../../messages_gen.go differs from what the generator
// produces from spec.txt: run `go generate ./bgapi/wire` after editing either.
func TestGeneratedFileUpToDate(t *testing.T) {
	in, err := os.ReadFile("spec.txt")
	if err != nil {
		t.Fatal(err)
	}
	want, err := generate(in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../../messages_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("bgapi/wire/messages_gen.go is stale: run `go generate ./bgapi/wire`")
	}
}
