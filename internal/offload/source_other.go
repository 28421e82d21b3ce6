//go:build !linux

package offload

import "os"

// source is a source file being copied.
type source struct{ *os.File }

// file is the source as an *os.File.
func (s *source) file() *os.File { return s.File }

// openSourceFile opens a source file for reading.
func openSourceFile(path string) (*source, error) {
	f, err := openRead(path)
	if err != nil {
		return nil, err
	}
	return &source{f}, nil
}
