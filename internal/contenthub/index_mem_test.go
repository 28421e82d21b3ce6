package contenthub

import (
	"encoding/binary"
	"runtime"
	"testing"
)

// The pack index of a hub of a million small blobs must fit in tens of
// megabytes, not gigabytes: fixed-size records in a sorted array.
func TestIndexOfAMillionBlobsIsSmall(t *testing.T) {
	const blobs = 1_000_000
	f := &indexFile{}
	for p := range blobs / 5000 {
		var id packID
		binary.BigEndian.PutUint32(id[:], uint32(p))
		f.packs = append(f.packs, id)
	}
	for i := range blobs {
		var e indexEntry
		binary.BigEndian.PutUint64(e.b3[:], uint64(i)*0x9e3779b97f4a7c15)
		binary.BigEndian.PutUint32(e.b3[8:], uint32(i))
		e.pack, e.off, e.length = uint32(i/5000), uint32(i%5000)*1500, 1500
		f.entries = append(f.entries, e)
	}
	data := f.encode()
	f = nil
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	x := newBlobIndex()
	if err := x.decode(data); err != nil {
		t.Fatal(err)
	}
	x.sortEntries()
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("index of %d blobs: %.1f MB of heap (%d bytes a blob)", blobs, float64(heap)/1e6, heap/blobs)
	if heap > 80<<20 {
		t.Errorf("index of %d blobs takes %d MB; want under 80", blobs, heap>>20)
	}
	var k [32]byte
	i := uint64(4242)
	binary.BigEndian.PutUint64(k[:], i*0x9e3779b97f4a7c15)
	binary.BigEndian.PutUint32(k[8:], 4242)
	if e, ok := x.lookup(k); !ok || e.off != 4242*1500 {
		t.Fatalf("lookup = %+v, %v", e, ok)
	}
	runtime.KeepAlive(data)
}
