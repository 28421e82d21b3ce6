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

	"github.com/editkit/editkit/internal/place"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errTorn marks a line whose checksum does not match or that lacks its
// newline: the tail of a journal cut by a crash, or damage.
var errTorn = errors.New("torn or damaged line")

// lineError is a line that is torn or fails its checksum.
type lineError struct {
	name   string
	line   int
	reason string
}

func (e *lineError) Error() string {
	return fmt.Sprintf("%s line %d: %s: %s", e.name, e.line, errTorn, e.reason)
}

func (e *lineError) Is(target error) bool { return target == errTorn }

// describeDamage splits an error from lineReader.next into where the
// damage is and what it is, for a DamagedError.
func describeDamage(err error, line int) (string, error) {
	var le *lineError
	if errors.As(err, &le) {
		return fmt.Sprintf("line %d", le.line), errors.New(le.reason)
	}
	if err == io.EOF {
		return fmt.Sprintf("line %d", line), errors.New("the file ends here")
	}
	return fmt.Sprintf("line %d", line), err
}

// appendLine encodes v as one checked line.
func appendLine(dst []byte, v any) ([]byte, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return dst, err
	}
	return appendChecked(append(dst, body...), len(dst)), nil
}

// appendRecordLine is appendLine for a record, which it takes by
// reference: one a copy writes twice per file is neither copied into an
// interface nor, when plainRecord, encoded by reflection.
func appendRecordLine(dst []byte, r *Record) ([]byte, error) {
	if !plainRecord(r) {
		return appendLine(dst, *r)
	}
	return appendChecked(appendRecordJSON(dst, r), len(dst)), nil
}

// appendChecked ends the line whose body is dst[start:] with its checksum.
func appendChecked(dst []byte, start int) []byte {
	sum := crc32.Checksum(dst[start:], castagnoli)
	dst = append(dst, '\t')
	dst = fmt.Appendf(dst, "%08x", sum)
	return append(dst, '\n')
}

// plainRecord tells whether appendRecordJSON encodes r: no MXF header
// and no string that JSON escapes. A copy writes each record twice (the
// journal, then the manifest at its end), and for a tree of small files
// encoding/json's reflection cost more than placing the file.
func plainRecord(r *Record) bool {
	return r.MXF == nil && plainJSON(r.Path) && plainJSON(r.BLAKE3) && plainJSON(r.XXH128) && plainJSON(r.Origin)
}

// plainJSON tells whether encoding/json writes s as it is, between quotes:
// printable ASCII other than the quote, the backslash and the characters
// it escapes for HTML.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c >= 0x80, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}

// appendRecordJSON appends what json.Marshal writes for a plainRecord,
// byte for byte (the fields in order, the empty ones left out).
func appendRecordJSON(dst []byte, r *Record) []byte {
	str := func(name, v string) {
		dst = append(dst, `,"`...)
		dst = append(dst, name...)
		dst = append(dst, `":"`...)
		dst = append(dst, v...)
		dst = append(dst, '"')
	}
	num := func(name string, v int64) {
		if v != 0 {
			dst = append(dst, `,"`...)
			dst = append(dst, name...)
			dst = append(dst, `":`...)
			dst = strconv.AppendInt(dst, v, 10)
		}
	}
	dst = append(dst, `{"path":"`...)
	dst = append(dst, r.Path...)
	dst = append(dst, '"')
	if r.Dir {
		dst = append(dst, `,"dir":true`...)
	}
	num("size", r.Size)
	num("mtime", r.ModTime)
	num("src_mtime", r.SrcMTime)
	for _, f := range [...]struct{ name, v string }{{"b3", r.BLAKE3}, {"xxh128", r.XXH128}, {"origin", r.Origin}} {
		if f.v != "" {
			str(f.name, f.v)
		}
	}
	num("written", r.Written)
	num("verified", r.Verified)
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendUint(dst, r.Seq, 10)
	if r.Deleted {
		dst = append(dst, `,"deleted":true`...)
	}
	return append(dst, '}')
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

// rawLine reads the next line as it stands, newline included; a line
// longer than the buffer (a very long path) is collected whole.
func (lr *lineReader) rawLine() ([]byte, error) {
	raw, err := lr.r.ReadSlice('\n')
	if err != bufio.ErrBufferFull {
		return raw, err
	}
	buf := append([]byte(nil), raw...)
	for err == bufio.ErrBufferFull {
		raw, err = lr.r.ReadSlice('\n')
		buf = append(buf, raw...)
	}
	return buf, err
}

// next returns the JSON body of the next line; io.EOF at a clean end, errTorn
// (wrapped) for a line that is incomplete or fails its checksum.
func (lr *lineReader) next() ([]byte, error) {
	raw, err := lr.rawLine()
	if err == io.EOF {
		if len(raw) == 0 {
			return nil, io.EOF
		}
		return nil, &lineError{lr.name, lr.line + 1, "cut short (no newline): the file is truncated"}
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", lr.name, err)
	}
	lr.line++
	body, ok := checkLine(raw)
	if !ok {
		return nil, &lineError{lr.name, lr.line, "its checksum does not match: a changed or flipped byte"}
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
	f     *os.File
	w     *bufio.Writer
	buf   []byte
	empty bool // it held no intact line when opened
}

// openJournal opens the journal name in the folder dir for appending
// (never through a link), first cutting it after its last intact line so
// that new records never follow a torn one.
func openJournal(dir *place.Dir, name string) (*journalWriter, error) {
	f, err := dir.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	path := f.Name()
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
	return &journalWriter{f: f, w: bufio.NewWriterSize(f, 64<<10), empty: good == 0}, nil
}

// intactLength returns the length of the prefix of a journal made of intact
// lines. A damaged line followed by intact ones is not a crash's torn tail
// (writers cut that off before appending) but damage: cutting there would
// silently drop the records after it, so it is reported instead.
func intactLength(f *os.File, name string) (int64, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	lr := newLineReader(f, name)
	for {
		_, err := lr.next()
		if err == io.EOF {
			return lr.offset, nil
		}
		if errors.Is(err, errTorn) {
			if lr.restHasIntactLine() {
				what, cause := describeDamage(err, lr.line)
				return 0, damagedFile(name, what, fmt.Errorf("%w, followed by intact lines", cause))
			}
			return lr.offset, nil
		}
		if err != nil {
			return 0, err
		}
	}
}

// restHasIntactLine reports whether any intact line follows the one next
// just returned as torn: then the torn line is damage, not a crash's tail.
func (lr *lineReader) restHasIntactLine() bool {
	for {
		raw, err := lr.rawLine()
		if err != nil {
			return false // EOF (a last line without its newline is torn) or unreadable
		}
		if _, ok := checkLine(raw); ok {
			return true
		}
	}
}

func (j *journalWriter) append(r Record) error {
	var err error
	j.buf, err = appendRecordLine(j.buf[:0], &r)
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
