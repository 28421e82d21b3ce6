//go:build windows

package place

func isNoPerm(err error) bool { return false }
