package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// adminCLI returns a runner of admin commands on the database db: it passes
// -database-url and returns what the command printed and its error.
func adminCLI(t *testing.T, db string) func(args ...string) (string, error) {
	return func(args ...string) (string, error) {
		t.Helper()
		var out, errOut bytes.Buffer
		err := admin(context.Background(), append(args, "-database-url", db), strings.NewReader(""), &out, &errOut)
		return out.String(), err
	}
}
