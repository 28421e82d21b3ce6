package place

// RemoveDir removes the empty folder name in d.
func (d *Dir) RemoveDir(name string) error {
	if err := oneName(name); err != nil {
		return err
	}
	return d.Remove(name)
}
