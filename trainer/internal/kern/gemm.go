package kern

import (
	"fmt"
	"sync"

	"github.com/pairflow/pairflow/internal/cpu"
	"github.com/sourcegraph/conc/pool"
)

// Blocking parameters, tuned for Zen 2/3 (32 KiB L1d, 512 KiB L2 per core).
// They are constants: the order in which each output element is reduced over
// K depends on K alone (kcStep), so results never depend on the
// thread count.
const (
	mr      = 6    // rows of the register tile
	nr      = 16   // columns of the register tile (two ymm registers)
	kcBlock = 256  // nominal K block: a 16-wide B micro-panel (16 KiB) stays in L1
	kcMax   = 384  // largest K block kcStep chooses (24 KiB micro-panel)
	mcBlock = 144  // M block: the packed A block (144 KiB) stays in L2
	ncBlock = 3072 // N block: the packed B block (3 MiB) lives in L3
)

// minParallelWork is the m·n·k below which Sgemm runs on one goroutine.
const minParallelWork = 1 << 18

// Sgemm computes C = alpha·op(A)·op(B) + beta·C for row-major float32
// matrices: op(A) is m×k, op(B) is k×n and C is m×n with leading dimension
// ldc. With transA false, A is stored m×k (element (i,p) at a[i*lda+p]);
// with transA true it is stored k×m (element (i,p) at a[p*lda+i]); B
// likewise (k×n, or n×k when transB). When beta is 0, C is not read (NaNs in
// it do not propagate), as in BLAS.
//
// Sgemm runs on up to Threads() goroutines and uses the tier Tier(). Its
// result is bit-identical whatever the thread count. It panics if a slice is
// too short for the shape or a leading dimension is too small. SgemmRef is
// the plain reference with the same signature.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkGemm("Sgemm", transA, transB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc)
	sgemm(tier, Threads(), transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// SgemmRef is the plain-Go reference for Sgemm: the textbook triple loop,
// each element summed over p = 0..k-1 in float32, then
// C = alpha·sum + beta·C (C not read when beta is 0). It is slow; tests and
// benchmarks use it as the baseline.
func SgemmRef(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkGemm("SgemmRef", transA, transB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float32
			for p := 0; p < k; p++ {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += av * bv
			}
			if beta == 0 {
				c[i*ldc+j] = alpha * s
			} else {
				c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]
			}
		}
	}
}

func need(rows, cols, ld int) int {
	if rows == 0 || cols == 0 {
		return 0
	}
	return (rows-1)*ld + cols
}

func checkGemm(name string, transA, transB bool, m, n, k, la, lda, lb, ldb, lc, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("kern: %s: negative shape m=%d n=%d k=%d", name, m, n, k))
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	switch {
	case lda < max(1, ac):
		panic(fmt.Sprintf("kern: %s: lda=%d < %d", name, lda, ac))
	case ldb < max(1, bc):
		panic(fmt.Sprintf("kern: %s: ldb=%d < %d", name, ldb, bc))
	case ldc < max(1, n):
		panic(fmt.Sprintf("kern: %s: ldc=%d < %d", name, ldc, n))
	case la < need(ar, ac, lda):
		panic(fmt.Sprintf("kern: %s: len(a)=%d < %d", name, la, need(ar, ac, lda)))
	case lb < need(br, bc, ldb):
		panic(fmt.Sprintf("kern: %s: len(b)=%d < %d", name, lb, need(br, bc, ldb)))
	case lc < need(m, n, ldc):
		panic(fmt.Sprintf("kern: %s: len(c)=%d < %d", name, lc, need(m, n, ldc)))
	}
}

// packing policy, overridable by tests and benchmarks.
const (
	packAuto = iota
	packAlways
	packNever
	packBOnly // A in place (unless transposed), B as packAuto decides
)

var packPolicy = packAuto

// packSlack is the room packA6 may spill into after a packed A block.
const packSlack = 2

// gemmBuf holds one goroutine's packing buffers.
type gemmBuf struct {
	pa []float32 // packed A block: ceil(mcBlock/mr) panels of kc×mr
	pb []float32 // packed B block: ceil(ncBlock/nr) panels of kc×nr
	ea []float32 // one packed A tile (edge rows when A is read in place)
	eb []float32 // one packed B panel (edge columns when B is read in place)
}

// Packing buffers are kept in a small free list rather than a sync.Pool:
// the pool is emptied at every GC, and re-allocating (and faulting in)
// megabytes per call costs more than a 512² GEMM.
var bufs struct {
	sync.Mutex
	free []*gemmBuf
}

const maxFreeBufs = 16

func getBuf() *gemmBuf {
	bufs.Lock()
	defer bufs.Unlock()
	if n := len(bufs.free); n > 0 {
		b := bufs.free[n-1]
		bufs.free = bufs.free[:n-1]
		return b
	}
	return &gemmBuf{ea: make([]float32, mr*kcMax), eb: make([]float32, nr*kcMax)}
}

func putBuf(b *gemmBuf) {
	bufs.Lock()
	defer bufs.Unlock()
	if len(bufs.free) < maxFreeBufs {
		bufs.free = append(bufs.free, b)
	}
}

// grow returns s resized to n elements, reallocating only when it is short.
func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// sgemm splits C into at most threads disjoint blocks of whole tiles and
// runs sgemmSerial on each. Every element is computed the same way whatever
// block it falls in, so the split cannot change the result.
func sgemm(t cpu.Tier, threads int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	if chunks := kSplit(m, n, k); chunks > 1 {
		sgemmKSplit(t, threads, chunks, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	mu, nu := (m+mr-1)/mr, (n+nr-1)/nr
	parts := threads
	if m*n*k < minParallelWork {
		parts = 1
	}
	splitM := mu >= nu || mu >= 4*parts
	if splitM {
		parts = min(parts, mu)
	} else {
		parts = min(parts, nu)
	}
	if parts <= 1 {
		sgemmSerial(t, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	p := pool.New().WithMaxGoroutines(parts)
	if splitM {
		per := (mu + parts - 1) / parts * mr
		for i0 := 0; i0 < m; i0 += per {
			rows := min(per, m-i0)
			var as []float32
			if transA {
				as = a[i0:]
			} else {
				as = a[i0*lda:]
			}
			cs := c[i0*ldc:]
			p.Go(func() {
				sgemmSerial(t, transA, transB, rows, n, k, alpha, as, lda, b, ldb, beta, cs, ldc)
			})
		}
	} else {
		per := (nu + parts - 1) / parts * nr
		for j0 := 0; j0 < n; j0 += per {
			cols := min(per, n-j0)
			var bs []float32
			if transB {
				bs = b[j0*ldb:]
			} else {
				bs = b[j0:]
			}
			cs := c[j0:]
			p.Go(func() {
				sgemmSerial(t, transA, transB, m, cols, k, alpha, a, lda, bs, ldb, beta, cs, ldc)
			})
		}
	}
	p.Wait()
}

// kcStep is the K block size for a reduction of length k: k split into the
// fewest blocks of at most kcMax, of nearly equal size rounded up to a
// multiple of 8 (so K = 288 is one block, not 256 + 32, and C is read and
// written once). It depends on k alone.
func kcStep(k int) int {
	nb := (k + kcMax - 1) / kcMax
	return min(kcMax, ((k+nb-1)/nb+7)&^7)
}

// kSplit returns the number of K chunks Sgemm reduces separately for a
// shape: more than one only when C is too small to keep the cores busy and
// K is long (a weight gradient: C = dY·Xᵀ over a whole batch). It depends
// on the shape alone, never on the thread count.
func kSplit(m, n, k int) int {
	if m*n > 64*64 {
		return 1
	}
	return max(1, min(16, k/(8*kcBlock)))
}

// sgemmKSplit cuts K into chunks (whole kcBlocks), computes each chunk's
// product into its own buffer, and sums the chunks in order:
// C = alpha·(P₀ + P₁ + …) + beta·C.
func sgemmKSplit(t cpu.Tier, threads, chunks int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	per := ((k+chunks-1)/chunks + kcBlock - 1) / kcBlock * kcBlock
	chunks = (k + per - 1) / per
	parts := make([]float32, chunks*m*n)
	pl := pool.New().WithMaxGoroutines(max(1, min(threads, chunks)))
	for g := range chunks {
		p0 := g * per
		kc := min(per, k-p0)
		var as, bs []float32
		if transA {
			as = a[p0*lda:]
		} else {
			as = a[p0:]
		}
		if transB {
			bs = b[p0:]
		} else {
			bs = b[p0*ldb:]
		}
		part := parts[g*m*n : (g+1)*m*n]
		pl.Go(func() {
			sgemmSerial(t, transA, transB, m, n, kc, 1, as, lda, bs, ldb, 0, part, n)
		})
	}
	pl.Wait()
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		for j := range row {
			s := parts[i*n+j]
			for g := 1; g < chunks; g++ {
				s += parts[g*m*n+i*n+j]
			}
			if beta == 0 {
				row[j] = alpha * s
			} else {
				row[j] = alpha*s + beta*row[j]
			}
		}
	}
}

// scaleC sets C = beta·C (C = 0 when beta is 0).
func scaleC(m, n int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

// sgemmSerial is the blocked GEMM of Goto and van de Geijn (BLIS loop
// order): for each N block, each K block, each M block, each 16-column
// micro-panel of B, each 6-row micro-panel of A, one register-tile kernel
// call. The first K block applies the caller's beta, later ones add to C.
func sgemmSerial(t cpu.Tier, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	buf := getBuf()
	defer putBuf(buf)

	// Packing costs about as much as a handful of FMAs per element, so an
	// operand is packed only where it pays (measured on Zen 2/3 with
	// BenchmarkSgemmPackPolicy). B: when it is transposed, reused by many
	// row tiles, or its row stride is a multiple of 4 KiB (the rows of a
	// micro-panel would alias in L1). A: when N spans more than four
	// panels and A is transposed or its row stride is a multiple of 4 KiB.
	// Otherwise the kernel reads the operand in place through its strides.
	packA := n > 4*nr && (transA || lda%1024 == 0)
	packB := transB || m >= 16*mr || ldb%1024 == 0
	switch packPolicy {
	case packAlways:
		packA, packB = true, true
	case packNever:
		packA, packB = false, transB
	case packBOnly:
		packA = packA && transA
	}
	if packA {
		buf.pa = grow(buf.pa, (min(m, mcBlock)+mr-1)/mr*mr*min(k, kcMax)+packSlack)
	}
	if packB {
		buf.pb = grow(buf.pb, (min(n, ncBlock)+nr-1)/nr*nr*min(k, kcMax))
	}
	aRow, aStep := lda, 1
	if transA {
		aRow, aStep = 1, lda
	}

	for jc := 0; jc < n; jc += ncBlock {
		nc := min(ncBlock, n-jc)
		step := kcStep(k)
		for pc := 0; pc < k; pc += step {
			kc := min(step, k-pc)
			bta, load := beta, beta != 0
			if pc > 0 {
				bta, load = 1, true
			}
			if packB {
				packBBlock(t, buf.pb, transB, b, ldb, pc, kc, jc, nc)
			} else if w := nc % nr; w != 0 {
				// B is read in place except for its last, partial panel.
				packBBlock(t, buf.eb, false, b, ldb, pc, kc, jc+nc-w, w)
			}
			for ic := 0; ic < m; ic += mcBlock {
				mc := min(mcBlock, m-ic)
				if packA {
					packABlock(t, buf.pa, transA, a, lda, ic, mc, pc, kc)
				} else if h := mc % mr; h != 0 {
					// A is read in place except for its last, partial tile.
					packABlock(t, buf.ea, transA, a, lda, ic+mc-h, h, pc, kc)
				}
				for jr := 0; jr < nc; jr += nr {
					w := min(nr, nc-jr)
					var bp []float32
					bStep := nr
					switch {
					case packB:
						bp = buf.pb[jr*kc:]
					case w < nr:
						bp = buf.eb
					default:
						bp = b[pc*ldb+jc+jr:]
						bStep = ldb
					}
					for ir := 0; ir < mc; ir += mr {
						h := min(mr, mc-ir)
						var ap []float32
						ar, as := 1, mr
						switch {
						case packA:
							ap = buf.pa[ir*kc:]
						case h < mr:
							ap = buf.ea
						default:
							ar, as = aRow, aStep
							if transA {
								ap = a[pc*lda+ic+ir:]
							} else {
								ap = a[(ic+ir)*lda+pc:]
							}
						}
						microKernel(t, kc, ap, ar, as, bp, bStep, c[(ic+ir)*ldc+jc+jr:], ldc, h, w, alpha, bta, load)
					}
				}
			}
		}
	}
}

// packABlock packs rows i0..i0+mc-1, columns p0..p0+kc-1 of op(A) into
// ceil(mc/mr) panels of kc×mr (element (r,p) of a panel at p*mr+r), padding
// missing rows with zeros.
func packABlock(t cpu.Tier, dst []float32, transA bool, a []float32, lda, i0, mc, p0, kc int) {
	for r0 := 0; r0 < mc; r0 += mr {
		h := min(mr, mc-r0)
		panel := dst[r0*kc : r0*kc+kc*mr]
		if transA {
			for p := 0; p < kc; p++ {
				src := a[(p0+p)*lda+i0+r0:]
				d := panel[p*mr : p*mr+mr]
				copy(d, src[:h])
				clear(d[h:])
			}
			continue
		}
		if h < mr {
			clear(panel)
			for r := 0; r < h; r++ {
				src := a[(i0+r0+r)*lda+p0:]
				src = src[:kc]
				for p, v := range src {
					panel[p*mr+r] = v
				}
			}
			continue
		}
		// Six row streams, written out one packed column (6 floats) at a
		// time; the SIMD path does the first multiple of 8 columns. Its
		// two-float spill lands in the next column or panel, written after,
		// or in the slack the buffers keep at their end.
		base := (i0+r0)*lda + p0
		done := packA6(t, kc, a[base:], lda, dst[r0*kc:])
		r0s, r1s, r2s := a[base:base+kc], a[base+lda:base+lda+kc], a[base+2*lda:base+2*lda+kc]
		r3s, r4s, r5s := a[base+3*lda:base+3*lda+kc], a[base+4*lda:base+4*lda+kc], a[base+5*lda:base+5*lda+kc]
		for p := done; p < kc; p++ {
			d := (*[mr]float32)(panel[p*mr : p*mr+mr])
			d[0], d[1], d[2], d[3], d[4], d[5] = r0s[p], r1s[p], r2s[p], r3s[p], r4s[p], r5s[p]
		}
	}
}

// packBBlock packs rows p0..p0+kc-1, columns j0..j0+nc-1 of op(B) into
// ceil(nc/nr) panels of kc×nr (element (p,j) of a panel at p*nr+j), padding
// missing columns with zeros.
func packBBlock(t cpu.Tier, dst []float32, transB bool, b []float32, ldb, p0, kc, j0, nc int) {
	for q0 := 0; q0 < nc; q0 += nr {
		w := min(nr, nc-q0)
		panel := dst[q0*kc : q0*kc+kc*nr]
		if !transB {
			if w == nr && packB16(t, kc, b[p0*ldb+j0+q0:], ldb, panel) {
				continue
			}
			for p := 0; p < kc; p++ {
				d := panel[p*nr : p*nr+nr]
				copy(d, b[(p0+p)*ldb+j0+q0:][:w])
				clear(d[w:])
			}
			continue
		}
		if w < nr {
			clear(panel)
		}
		done := 0
		if w == nr {
			done = packB16T(t, kc, b[(j0+q0)*ldb+p0:], ldb, panel)
		}
		for j := 0; j < w; j++ {
			src := b[(j0+q0+j)*ldb+p0:]
			src = src[:kc]
			for p := done; p < kc; p++ {
				panel[p*nr+j] = src[p]
			}
		}
	}
}

// microKernelGo is the plain-Go register-tile kernel, the reference for
// sgemmKernel6x16AVX2: for the h×w top-left part of a 6×16 tile,
//
//	acc[i][j] = Σ_{p<kc} a[i*aRow+p*aStep] · b[p*bStep+j]
//	c[i*ldc+j] = alpha·acc[i][j] + beta·c[i*ldc+j]   (only alpha·acc when !load)
//
// It reads all six rows of a and all sixteen columns of b (the caller pads
// edges), and touches only the h×w part of c.
func microKernelGo(kc int, a []float32, aRow, aStep int, b []float32, bStep int, c []float32, ldc, h, w int, alpha, beta float32, load bool) {
	var acc [mr][nr]float32
	for p := 0; p < kc; p++ {
		bp := (*[nr]float32)(b[p*bStep : p*bStep+nr])
		for i := 0; i < mr; i++ {
			av := a[i*aRow+p*aStep]
			row := &acc[i]
			for j := range row {
				row[j] += av * bp[j]
			}
		}
	}
	for i := 0; i < h; i++ {
		cr := c[i*ldc : i*ldc+w]
		for j := range cr {
			t := alpha * acc[i][j]
			if load {
				t += beta * cr[j]
			}
			cr[j] = t
		}
	}
}
