//go:build !unix

package bgapi

// nodeID is unused where device nodes cannot be told apart (Windows COM ports).
type nodeID struct{}

func nodeIdentity(string) (nodeID, bool) { return nodeID{}, false }
