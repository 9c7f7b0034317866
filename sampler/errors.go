package sampler

import "errors"

// Sentinel errors. Every error the package returns wraps exactly one of these
// (test with errors.Is) and says in its text which value was wrong.
var (
	// ErrConfig: a Config or argument is invalid (sizes out of range, a rank
	// outside the world, a subset index outside the dataset, a policy that
	// would leave a rank with nothing to read, ...).
	ErrConfig = errors.New("invalid sampler configuration")

	// ErrFingerprint: a State was saved under a different stream-fixing
	// configuration (dataset manifest, pair kind, recipe, seed, batch size,
	// pad/drop policy, or sampling mode) than the one it is restored into.
	ErrFingerprint = errors.New("state fingerprint does not match the configuration")

	// ErrVersion: a serialised State carries a version this package cannot read.
	ErrVersion = errors.New("unsupported sampler state version")

	// ErrState: a serialised State is malformed (bad JSON, unknown fields,
	// negative or inconsistent values, too large).
	ErrState = errors.New("malformed sampler state")

	// ErrTopology: the world size or rank changed in the middle of an epoch.
	// It may change only at an epoch boundary.
	ErrTopology = errors.New("world size or rank changed mid-epoch")
)
