package copy

import (
	"github.com/editkit/editkit/internal/mhl"
)

const (
	historyPattern = "ascmhl/"
	historyReason  = "ASC MHL history (carried over and continued, not copied as media)"
)

// writeMHL adds an ASC MHL transfer generation at the drive's root listing
// every file written since the last generation.
func (c *copier) writeMHL(d *dest) (string, error) {
	return d.drive.AddMHLGeneration(mhl.Generation{
		Process:     mhl.ProcessTransfer,
		Created:     c.opts.Now(),
		Host:        c.opts.Host,
		Tool:        c.opts.Tool,
		ToolVersion: c.opts.Version,
		Author:      c.opts.User,
		Comment:     "editkit copy from " + c.srcRoot,
	}, c.histories)
}
