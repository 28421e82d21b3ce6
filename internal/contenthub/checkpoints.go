package contenthub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/editkit/editkit/internal/contenthub/backend"
)

// checkpointsPrefix holds the catalog's checkpoints: the catalog folded
// through a batch of the event log, named after that batch so that they
// sort as the log does. What a checkpoint holds is package catalog's.
const checkpointsPrefix = "catalog/checkpoints/"

// checkpointKey is the checkpoint of the log folded through the batch key
// through.
func checkpointKey(through string) string {
	base := through[strings.LastIndexByte(through, '/')+1:]
	return checkpointsPrefix + strings.TrimSuffix(base, ".jsonl") + ".json.gz"
}

// Checkpoints lists the catalog's checkpoints, oldest first.
func (h *Hub) Checkpoints(ctx context.Context) ([]string, error) {
	var out []string
	for oi, err := range h.backend.List(ctx, checkpointsPrefix) {
		if err != nil {
			return nil, fmt.Errorf("listing catalog checkpoints: %w", err)
		}
		if strings.HasSuffix(oi.Key, ".json.gz") {
			out = append(out, oi.Key)
		}
	}
	sort.Strings(out)
	return out, nil
}

// OpenCheckpoint reads a checkpoint Checkpoints listed.
func (h *Hub) OpenCheckpoint(ctx context.Context, name string) (io.ReadCloser, error) {
	return h.backend.Get(ctx, name, 0, -1)
}

// WriteCheckpoint stores data as the checkpoint of the log folded through
// the batch key through and returns its name. A checkpoint through the same
// batch that is already there is kept: another reader folded the same log.
func (h *Hub) WriteCheckpoint(ctx context.Context, through string, data []byte) (string, error) {
	key := checkpointKey(through)
	err := h.backend.Put(ctx, key, backend.BytesSource(data), backend.PutOptions{IfNotExists: true})
	if errors.Is(err, backend.ErrExists) {
		return key, nil
	}
	return key, err
}
