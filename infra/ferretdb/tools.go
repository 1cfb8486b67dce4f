//go:build tools

// Package tools records the FerretDB command as a dependency of this module, so that
// `go mod vendor` brings its sources in.
package tools

import _ "github.com/FerretDB/FerretDB/cmd/ferretdb"
