//go:build !unix && !windows

package backend

func isLocalTransient(err error) bool { return isNetworkError(err) }

// processAlive cannot tell here, so a partial file is taken over only once
// it is stale by age.
func processAlive(pid int) bool { return true }
