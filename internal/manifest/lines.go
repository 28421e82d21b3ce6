package manifest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"strconv"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errTorn marks a line whose checksum does not match or that lacks its
// newline: the tail of a journal cut by a crash, or damage.
var errTorn = errors.New("torn or damaged line")

// appendLine encodes v as one checked line.
func appendLine(dst []byte, v any) ([]byte, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return dst, err
	}
	dst = append(dst, body...)
	dst = append(dst, '\t')
	dst = fmt.Appendf(dst, "%08x", crc32.Checksum(body, castagnoli))
	return append(dst, '\n'), nil
}

// lineReader reads checked lines.
type lineReader struct {
	r      *bufio.Reader
	name   string
	offset int64 // offset of the next line
	line   int
}

func newLineReader(r io.Reader, name string) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 256<<10), name: name}
}

// next returns the JSON body of the next line; io.EOF at a clean end, errTorn
// (wrapped) for a line that is incomplete or fails its checksum.
func (lr *lineReader) next() ([]byte, error) {
	raw, err := lr.r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		// A record longer than the buffer (a very long path): collect it.
		buf := append([]byte(nil), raw...)
		for err == bufio.ErrBufferFull {
			raw, err = lr.r.ReadSlice('\n')
			buf = append(buf, raw...)
		}
		raw = buf
	}
	if err == io.EOF {
		if len(raw) == 0 {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("%s line %d: %w (no newline)", lr.name, lr.line+1, errTorn)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", lr.name, err)
	}
	lr.line++
	body, ok := checkLine(raw)
	if !ok {
		return nil, fmt.Errorf("%s line %d: %w", lr.name, lr.line, errTorn)
	}
	lr.offset += int64(len(raw))
	return body, nil
}

func checkLine(raw []byte) ([]byte, bool) {
	raw = raw[:len(raw)-1] // newline
	tab := bytes.LastIndexByte(raw, '\t')
	if tab < 0 || len(raw)-tab-1 != 8 {
		return nil, false
	}
	want, err := strconv.ParseUint(string(raw[tab+1:]), 16, 32)
	if err != nil {
		return nil, false
	}
	body := raw[:tab]
	return body, crc32.Checksum(body, castagnoli) == uint32(want)
}

// journalWriter appends checked lines to the journal.
type journalWriter struct {
	f   *os.File
	w   *bufio.Writer
	buf []byte
}

// openJournal opens the journal for appending, first cutting it after its
// last intact line so that new records never follow a torn one.
func openJournal(path string) (*journalWriter, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	good, err := intactLength(f, path)
	if err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Truncate(good); err != nil {
		f.Close()
		return nil, fmt.Errorf("repair %s: %w", path, err)
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	return &journalWriter{f: f, w: bufio.NewWriterSize(f, 64<<10)}, nil
}

// intactLength returns the length of the prefix of a journal made of intact lines.
func intactLength(f *os.File, name string) (int64, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	lr := newLineReader(f, name)
	for {
		_, err := lr.next()
		if err == io.EOF || errors.Is(err, errTorn) {
			return lr.offset, nil
		}
		if err != nil {
			return 0, err
		}
	}
}

func (j *journalWriter) append(r Record) error {
	var err error
	j.buf, err = appendLine(j.buf[:0], r)
	if err != nil {
		return err
	}
	_, err = j.w.Write(j.buf)
	return err
}

func (j *journalWriter) sync() error {
	if err := j.w.Flush(); err != nil {
		return err
	}
	return j.f.Sync()
}

func (j *journalWriter) close() error {
	err := j.sync()
	if cerr := j.f.Close(); err == nil {
		err = cerr
	}
	return err
}
