package backup

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/editkit/editkit/internal/fsx"
)

// ErrRunning is returned by LockSet when another backup of the set is
// running on this computer.
var ErrRunning = errors.New("another backup of this set is running")

type lockInfo struct {
	PID     int       `json:"pid"`
	Host    string    `json:"host"`
	Started time.Time `json:"started"`
}

// LockSet takes this computer's lock for backing up a set, so that two runs
// (a slow one and the next night's cron job) never overlap. The lock is an
// operating-system file lock, released by the kernel when its process
// ends, however it ends: a lock left by a crash is taken over, and the
// returned note says so.
func LockSet(stateDir, set, host string, now time.Time) (unlock func(), note string, err error) {
	dir := filepath.Join(stateDir, "locks")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, "", err
	}
	path := filepath.Join(dir, "backup-"+set+".lock")
	var prev lockInfo
	if data, err := os.ReadFile(path); err == nil {
		json.Unmarshal(data, &prev)
	}
	release, err := fsx.Lock(path)
	if errors.Is(err, fsx.ErrLocked) {
		return nil, "", fmt.Errorf("%w: set %q, pid %d on %s, started %s; this run stops (nothing was uploaded)",
			ErrRunning, set, prev.PID, prev.Host, prev.Started.Local().Format("2006-01-02 15:04:05"))
	}
	if err != nil {
		return nil, "", err
	}
	if prev.PID != 0 {
		note = fmt.Sprintf("took over the lock of an earlier backup of set %q that did not finish (pid %d on %s, started %s)",
			set, prev.PID, prev.Host, prev.Started.Local().Format("2006-01-02 15:04:05"))
	}
	info, _ := json.Marshal(lockInfo{PID: os.Getpid(), Host: host, Started: now})
	// Written in place: the kernel lock is the lock, the content only
	// explains it. Truncated on a clean exit, so a leftover means a crash.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0o600)
	if err == nil {
		f.Write(info)
		f.Close()
	}
	return func() {
		os.Truncate(path, 0)
		release()
	}, note, nil
}
