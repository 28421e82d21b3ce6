//go:build !unix

package offload

import "os"

// openRead opens a source file for reading.
func openRead(path string) (*os.File, error) { return os.Open(path) }
