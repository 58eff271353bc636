package main

import (
	"testing"
)

// TestRealKernelSectionKept: a full regeneration keeps the real-kernel section of the old
// document (benchdoc cannot measure it), before "What limits each figure".
func TestRealKernelSectionKept(t *testing.T) {
	rk := realKernelHeading + "\n\nBENCH figures\n\n"
	old := "# Benchmarks\n\n## Read round trip\n\nold\n\n" + rk + limits
	sec := section(old, realKernelHeading)
	if sec != rk {
		t.Fatalf("section = %q, want %q", sec, rk)
	}
	fresh := "# Benchmarks\n\n## Read round trip\n\nnew\n\n" + limits
	got := splice(fresh, realKernelHeading, sec)
	want := "# Benchmarks\n\n## Read round trip\n\nnew\n\n" + rk + limits
	if got != want {
		t.Errorf("splice:\n%s\nwant:\n%s", got, want)
	}
	if section(fresh, realKernelHeading) != "" {
		t.Error("section of a document without it is not empty")
	}
}
