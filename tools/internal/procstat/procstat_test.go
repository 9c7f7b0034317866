package procstat

import (
	"os"
	"testing"
)

func TestKB(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc/self/status here")
	}
	peak, anon := PeakRSSKB(), KB("RssAnon:")
	if peak <= 0 || anon <= 0 || anon > peak {
		t.Fatalf("VmHWM %d kB, RssAnon %d kB", peak, anon)
	}
	for _, f := range []string{"NoSuchField:", "Name:"} { // absent; not in kB
		if n := KB(f); n != 0 {
			t.Errorf("KB(%q) = %d, want 0", f, n)
		}
	}
}
