//go:build !amd64 || purego || noasm

package ops

const haveResizeAsm = false

func resizeH3(dst []int16, src []uint8, p *resizePlan) { resizeHRef(dst, src, 3, p) }

func resizeV(out []uint8, mid []int16, stride, n int, w []int16) int { return 0 }

func resizeH3x2(dst0, dst1 []int16, src0, src1 []uint8, p *resizePlan) bool { return false }

func resizeH1x2(dst0, dst1 []int16, src0, src1 []uint8, p *resizePlan) {
	resizeHRef(dst0, src0, 1, p)
	resizeHRef(dst1, src1, 1, p)
}

func resizeWantQ4() bool { return false }
