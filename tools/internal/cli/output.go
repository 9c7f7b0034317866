package cli

import (
	"encoding/json"
	"fmt"

	"github.com/pairflow/pairflow/internal/atomicfile"
)

// WriteJSON writes v as indented JSON (one space, a final newline) to path
// through internal/atomicfile: a temporary file beside path, fsynced and
// renamed over it, so path holds either what it held before or the whole
// result, never a cut one. Commands use it for their --json style outputs.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return atomicfile.WriteFile(path, append(b, '\n'), 0o644)
}
