package contenthub

import "github.com/editkit/editkit/internal/contenthub/backend"

// Storage is the store under the hub, as opened (retries, bandwidth cap),
// for checks that talk to it directly: editkit doctor writes and deletes a
// probe object under a prefix no reader of the hub lists.
func (h *Hub) Storage() backend.Backend { return h.backend }
