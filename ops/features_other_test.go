//go:build !amd64 || purego || noasm

package ops

// resizeFeatureRuns: no optional CPU features to switch here.
func resizeFeatureRuns() []featureRun {
	return []featureRun{{"default", func() func() { return func() {} }}}
}
