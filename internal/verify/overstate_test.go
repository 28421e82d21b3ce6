package verify

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// A path that matches nothing is a problem, not "0 of 0 files intact".
func TestVerifyScopeThatMatchesNothing(t *testing.T) {
	root := verifyTestDrive(t)
	res, err := Run(context.Background(), Options{Drive: root, ReadOnly: true, Paths: []string{"Avid MediaFiles/MXF/1"}})
	if err != nil || res.OK() || len(res.Problems) != 1 || res.Problems[0].Kind != Missing || res.Problems[0].Path != "Avid MediaFiles/MXF/1" {
		t.Fatalf("res %+v, err %v", res, err)
	}
	res, err = Run(context.Background(), Options{Drive: root, ReadOnly: true, Paths: []string{"b.mxf"}})
	if err != nil || !res.OK() || res.Verified != 1 {
		t.Fatalf("a path that matches: res %+v, err %v", res, err)
	}
	// A recorded file that is gone is listed once, as missing.
	os.Remove(filepath.Join(root, "c.wav"))
	res, err = Run(context.Background(), Options{Drive: root, ReadOnly: true, Paths: []string{"c.wav"}})
	if err != nil || len(res.Problems) != 1 || res.Problems[0].Kind != Missing || res.Files != 1 {
		t.Fatalf("a missing recorded file: res %+v, err %v", res, err)
	}
}

// An empty b3sum list verifies nothing: a usage error, not "all intact".
func TestVerifyEmptyB3SumList(t *testing.T) {
	root := verifyTestDrive(t)
	list := filepath.Join(t.TempDir(), "empty.b3sum")
	os.WriteFile(list, nil, 0o644)
	res, err := Run(context.Background(), Options{Drive: root, ReadOnly: true, Against: WithB3Sum, B3Sum: list})
	var ue *UsageError
	if !errors.As(err, &ue) || res != nil {
		t.Fatalf("res %+v, err %v", res, err)
	}
}
