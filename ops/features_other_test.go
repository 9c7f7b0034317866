//go:build !amd64 || purego || noasm

package ops

// resizeFeatureRuns: no optional CPU features to switch here.
func resizeFeatureRuns() []struct {
	name string
	set  func() (restore func())
} {
	return []struct {
		name string
		set  func() (restore func())
	}{{"default", func() func() { return func() {} }}}
}
