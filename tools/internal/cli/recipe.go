package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/pairflow/pairflow/internal/inputfile"
	"github.com/pairflow/pairflow/ops"
)

// Recipe reads a --recipe value the one way every command does:
//
//   - a preset name (ops.Presets) is that preset;
//   - a value that starts with "{" is a recipe given inline as JSON;
//   - anything else names a recipe JSON file, read through
//     internal/inputfile (regular files only, at most 16 MiB).
//
// It returns what pipeline.Config.Recipe takes (the preset name, or the
// recipe's JSON text) and the parsed recipe. A mistake in the value itself
// — neither a preset nor an existing file, or inline JSON that is not a
// recipe — is an error wrapping ErrUsage; a file that cannot be read (a
// FIFO, a device, too large) or does not hold a valid recipe is an error
// naming the file.
func Recipe(value string) (string, *ops.Recipe, error) {
	if r, err := ops.Preset(value); err == nil {
		return value, r, nil
	}
	if text := strings.TrimSpace(value); strings.HasPrefix(text, "{") {
		r, err := ops.ParseRecipe([]byte(text))
		if err != nil {
			return "", nil, fmt.Errorf("%w: --recipe (inline JSON): %w", ErrUsage, err)
		}
		return text, r, nil
	}
	b, err := inputfile.ReadFile(value, inputfile.MaxJSONBytes)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil, fmt.Errorf("%w: --recipe %q is neither a preset (%s) nor a recipe file", ErrUsage, value, strings.Join(ops.Presets(), ", "))
	}
	if err != nil {
		return "", nil, fmt.Errorf("--recipe: %w", err)
	}
	text := strings.TrimSpace(string(b))
	r, err := ops.ParseRecipe([]byte(text))
	if err != nil {
		return "", nil, fmt.Errorf("--recipe %s: %w", value, err)
	}
	return text, r, nil
}
