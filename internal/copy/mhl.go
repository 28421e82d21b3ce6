package copy

// writeMHL adds an ASC MHL generation for the files this and any earlier
// unrecorded runs wrote. (Filled in with internal/mhl.)
func (c *copier) writeMHL(d *dest) (string, error) { return "", nil }
