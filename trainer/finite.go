package trainer

import (
	"encoding/binary"
	"fmt"
	"math"
)

// checkFinite refuses a floating-point checkpoint tensor holding NaN or
// ±Inf: weights like that come from a damaged file (or a run that had
// already diverged), and training from them fails later with a loss of NaN
// that points at the learning rate instead of the file.
func checkFinite(t STTensor, file string) error {
	bad := -1
	switch t.DType {
	case "F32":
		for i := 0; i+4 <= len(t.Data); i += 4 {
			if v := float64(math.Float32frombits(binary.LittleEndian.Uint32(t.Data[i:]))); math.IsNaN(v) || math.IsInf(v, 0) {
				bad = i / 4
				break
			}
		}
	case "F64":
		for i := 0; i+8 <= len(t.Data); i += 8 {
			if v := math.Float64frombits(binary.LittleEndian.Uint64(t.Data[i:])); math.IsNaN(v) || math.IsInf(v, 0) {
				bad = i / 8
				break
			}
		}
	}
	if bad < 0 {
		return nil
	}
	return fmt.Errorf("trainer: checkpoint %s: tensor %q holds a non-finite value (NaN or Inf) at element %d: the file is damaged, or was saved after training diverged: %w",
		file, t.Name, bad, ErrFormat)
}
