package kern

import (
	"fmt"
	"sync"

	"github.com/pairflow/pairflow/internal/cpu"
	"github.com/sourcegraph/conc/pool"
)

// K blocking, common to every tier: the order in which each output element
// is reduced over K depends on K alone (kcStep), never on the tier's tile or
// the thread count, so results are bit-identical across both.
const (
	kcBlock = 256 // nominal K block
	kcMax   = 384 // largest K block kcStep chooses
)

// microKernelFunc computes an h×w tile of C (h ≤ mr, w ≤ nr) from kc
// columns of an A panel and kc rows of a B panel: see microKernelGo.
type microKernelFunc func(kc int, a []float32, aRow, aStep int, b []float32, bStep int, c []float32, ldc, h, w int, alpha, beta float32, load bool)

// gemmPlan is one tier's GEMM: its register tile, cache blocking, packers
// and kernel. A tier is one plan (planFor); the blocked loops in
// sgemmSerial are written once against it. The SIMD fields are nil in the
// generic plan (and in ref()), which then runs the plain-Go packers and
// microKernelGo; each SIMD field must match that reference exactly.
type gemmPlan struct {
	name   string
	mr, nr int // register tile: mr rows × nr columns
	mc, nc int // M block (a multiple of mr: the packed A block stays in L2) and N block (B block in L3)
	kernel microKernelFunc
	// kernelB, when set, replaces kernel where B is read in place
	// (bStep ≠ nr): a kernel that prefetches the next B panel.
	kernelB  microKernelFunc
	packA    func(kc int, a []float32, lda int, dst []float32) int    // full mr-row panel of untransposed A; returns columns done
	packAE   func(kc int, a []float32, lda, h int, dst []float32) int // edge panel (h < mr rows) of untransposed A; returns columns done
	packB    func(kc int, b []float32, ldb int, dst []float32) bool   // full nr-column panel of untransposed B
	packBT   func(kc int, b []float32, ldb int, dst []float32) int    // full nr-column panel of transposed B; returns rows done
	packRule func(transA, transB bool, m, n, k, lda, ldb int, p *gemmPlan) (packA, packB bool)
	// alt, when set, is a plan with another tile (same K blocking) that
	// forShape picks for the shapes fewerPaddedRows names.
	alt *gemmPlan
}

// tileChoice forces one of a plan's tiles (tests and benchmarks).
const (
	tileAuto = iota
	tileMain
	tileAlt
)

var tileChoice = tileAuto

// forShape returns the plan that runs an m×n×k GEMM: p itself or its alt.
// Every tile reduces each element in the same order (same K blocking, one
// FMA chain), so the choice never changes a result.
func (p *gemmPlan) forShape(m, n, k int) *gemmPlan {
	if p.alt == nil || tileChoice == tileMain {
		return p
	}
	if tileChoice == tileAlt || fewerPaddedRows(m, p) {
		return p.alt
	}
	return p
}

// fewerPaddedRows says whether p's alt tile covers M = m with fewer padded
// rows than p's tile (the AVX-512 plan: 14-row tiles for M = 27, 28 rows
// against 8-row tiles' 32); forShape then runs the alt.
func fewerPaddedRows(m int, p *gemmPlan) bool {
	return (m+p.alt.mr-1)/p.alt.mr*p.alt.mr < (m+p.mr-1)/p.mr*p.mr
}

// maxMR and maxNR bound every plan's tile (buffers, microKernelGo).
const (
	maxMR = 14
	maxNR = 32
)

// genericPlan is the plain-Go GEMM, the reference of every other plan.
var genericPlan = &gemmPlan{name: "generic 6×16", mr: 6, nr: 16, mc: 144, nc: 3072, packRule: packRuleAVX2}

// plans holds the plan of each tier this build has (set up by
// gemm_amd64.go); a tier without one runs the highest plan below it.
var plans = map[cpu.Tier]*gemmPlan{cpu.Generic: genericPlan}

// planFor returns tier t's plan.
func planFor(t cpu.Tier) *gemmPlan {
	for ; t > cpu.Generic; t-- {
		if p := plans[t]; p != nil {
			return p
		}
	}
	return genericPlan
}

// ref returns p with every SIMD routine removed: the same tile and
// blocking computed by the plain-Go reference routines.
func (p *gemmPlan) ref() *gemmPlan {
	q := *p
	q.kernel, q.kernelB, q.packA, q.packAE, q.packB, q.packBT = nil, nil, nil, nil, nil, nil
	q.name += " (Go)"
	if q.alt != nil {
		q.alt = q.alt.ref()
	}
	return &q
}

// microKernel runs p's register-tile kernel: kernelB where B is read in
// place (bStep ≠ nr) and the plan has one, else kernel, else microKernelGo.
func (p *gemmPlan) microKernel(kc int, a []float32, aRow, aStep int, b []float32, bStep int, c []float32, ldc, h, w int, alpha, beta float32, load bool) {
	if p.kernelB != nil && bStep != p.nr {
		p.kernelB(kc, a, aRow, aStep, b, bStep, c, ldc, h, w, alpha, beta, load)
		return
	}
	if p.kernel != nil {
		p.kernel(kc, a, aRow, aStep, b, bStep, c, ldc, h, w, alpha, beta, load)
		return
	}
	microKernelGo(p.mr, p.nr, kc, a, aRow, aStep, b, bStep, c, ldc, h, w, alpha, beta, load)
}

// packRuleAVX2 decides which operands sgemmSerial packs, for a plan whose
// kernel also reads A and B in place through their strides. Packing costs
// about as much as a handful of FMAs per element, so an operand is packed
// only where it pays (measured on Zen 2/3 with BenchmarkSgemmPackPolicy).
// B: when it is transposed, reused by many row tiles, or its row stride is
// a multiple of 4 KiB (the rows of a micro-panel would alias in L1). A:
// when N spans more than four panels and A is transposed or its row stride
// is a multiple of 4 KiB. Otherwise the kernel reads the operand in place.
func packRuleAVX2(transA, transB bool, m, n, k, lda, ldb int, p *gemmPlan) (packA, packB bool) {
	return n > 4*p.nr && (transA || lda%1024 == 0), transB || m >= 16*p.mr || ldb%1024 == 0
}

// packRuleAVX512 is packRuleAVX2 except that A is also packed, whatever N,
// when its row stride is a multiple of 2 KiB: the eight or fourteen rows a
// tile reads in place would then share at most two L1 sets (eight ways
// each).
// Measured on Zen 4 (GFLOP per CPU-second, the weight-gradient shapes
// 288×64×32768 and 576×128×32768): 60 → 75 and 72 → 87 with the rule, no
// change on shapes whose stride does not alias.
func packRuleAVX512(transA, transB bool, m, n, k, lda, ldb int, p *gemmPlan) (packA, packB bool) {
	return (n > 4*p.nr && transA) || lda%512 == 0, transB || m >= 16*p.mr || ldb%1024 == 0
}

// packRulePrefetchB is packRuleAVX512 for a plan with a kernelB that
// prefetches the next B panel (the 8×32 AVX-512 tile). Packing B pays where
// its packed panel (kc·nr floats) stays in L1 while the row tiles reuse it
// (below 32 KiB), or where so many row tiles reuse it that the copy costs
// nothing (m ≥ 1024·mr). Otherwise a panel cannot stay in L1 beside the
// A panel, so each kernel call streams it from L2 whether it is packed or
// not; there B is read in place (unless it is transposed or its rows alias
// in L1, a stride that is a multiple of 4 KiB): kernelB's prefetch brings
// each panel into L2 while the calls on the panel before it run, and the
// copy is saved. Measured on Zen 4 (GFLOP per CPU-second, one thread, the
// 43 gemmbench shapes, old and new plan in turn): 1.00–1.15× on most shapes
// that now read B in place (1024×4608×512 1.03×; the noise on shapes whose
// code did not change was ±2–4%), and 0.98–1.02× on the M ≥ 16384 shapes
// the m bound keeps packed; see docs/benchmarks-avx512.md, "2026-12-07: B
// read in place for the last shape below OpenBLAS".
func packRulePrefetchB(transA, transB bool, m, n, k, lda, ldb int, p *gemmPlan) (packA, packB bool) {
	packA, packB = packRuleAVX512(transA, transB, m, n, k, lda, ldb, p)
	if !transB && ldb%1024 != 0 && 4*kcStep(k)*p.nr >= 32<<10 && m < 1024*p.mr {
		packB = false
	}
	return packA, packB
}

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

// packSlack is the room a plan's packA may spill into after a packed A
// block (packA6AVX2's two floats; packA14AVX2 writes nothing past its panel).
const packSlack = 2

// gemmBuf holds one goroutine's packing buffers.
type gemmBuf struct {
	pa []float32 // packed A block: ceil(mc/mr) panels of kc×mr
	pb []float32 // packed B block: ceil(nc/nr) panels of kc×nr
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
	return &gemmBuf{ea: make([]float32, maxMR*kcMax+packSlack), eb: make([]float32, maxNR*kcMax)}
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

// sgemm splits C into at most threads disjoint blocks of whole tiles of
// tier t's plan and runs sgemmSerial on each. Every element is computed the
// same way whatever block it falls in, so the split cannot change the
// result.
func sgemm(t cpu.Tier, threads int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	pl := planFor(t).forShape(m, n, k)
	mr, nr := pl.mr, pl.nr
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	if chunks := kSplit(m, n, k); chunks > 1 {
		sgemmKSplit(pl, threads, chunks, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
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
		sgemmSerial(pl, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
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
				sgemmSerial(pl, transA, transB, rows, n, k, alpha, as, lda, b, ldb, beta, cs, ldc)
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
				sgemmSerial(pl, transA, transB, m, cols, k, alpha, a, lda, bs, ldb, beta, cs, ldc)
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
func sgemmKSplit(pl *gemmPlan, threads, chunks int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	per := ((k+chunks-1)/chunks + kcBlock - 1) / kcBlock * kcBlock
	chunks = (k + per - 1) / per
	parts := make([]float32, chunks*m*n)
	wp := pool.New().WithMaxGoroutines(max(1, min(threads, chunks)))
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
		wp.Go(func() {
			sgemmSerial(pl, transA, transB, m, n, kc, 1, as, lda, bs, ldb, 0, part, n)
		})
	}
	wp.Wait()
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
// order): for each N block, each K block, each M block, each nr-column
// micro-panel of B, each mr-row micro-panel of A, one register-tile kernel
// call, with pl's tile, blocking, packers and kernel. The first K block
// applies the caller's beta, later ones add to C.
func sgemmSerial(pl *gemmPlan, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	buf := getBuf()
	defer putBuf(buf)
	mr, nr, mcBlock, ncBlock := pl.mr, pl.nr, pl.mc, pl.nc

	packA, packB := pl.packRule(transA, transB, m, n, k, lda, ldb, pl)
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
				pl.packBBlock(buf.pb, transB, b, ldb, pc, kc, jc, nc)
			} else if w := nc % nr; w != 0 {
				// B is read in place except for its last, partial panel.
				pl.packBBlock(buf.eb, false, b, ldb, pc, kc, jc+nc-w, w)
			}
			for ic := 0; ic < m; ic += mcBlock {
				mc := min(mcBlock, m-ic)
				if packA {
					pl.packABlock(buf.pa, transA, a, lda, ic, mc, pc, kc)
				} else if h := mc % mr; h != 0 {
					// A is read in place except for its last, partial tile.
					pl.packABlock(buf.ea, transA, a, lda, ic+mc-h, h, pc, kc)
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
						pl.microKernel(kc, ap, ar, as, bp, bStep, c[(ic+ir)*ldc+jc+jr:], ldc, h, w, alpha, bta, load)
					}
				}
			}
		}
	}
}

// packABlock packs rows i0..i0+mc-1, columns p0..p0+kc-1 of op(A) into
// ceil(mc/mr) panels of kc×mr (element (r,p) of a panel at p*mr+r), padding
// missing rows with zeros. The plan's SIMD packers do the first multiple of
// 8 columns of untransposed panels (packA full ones, packAE the last, short
// one); they may spill up to packSlack floats past a panel, into the next
// panel (written after) or the slack the buffers keep at their end.
func (pl *gemmPlan) packABlock(dst []float32, transA bool, a []float32, lda, i0, mc, p0, kc int) {
	mr := pl.mr
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
		}
		base := (i0+r0)*lda + p0
		done := 0
		switch {
		case h == mr && pl.packA != nil:
			done = pl.packA(kc, a[base:], lda, dst[r0*kc:])
		case h < mr && pl.packAE != nil:
			done = pl.packAE(kc, a[base:], lda, h, dst[r0*kc:])
		}
		for r := 0; r < h; r++ {
			src := a[base+r*lda : base+r*lda+kc]
			for p := done; p < kc; p++ {
				panel[p*mr+r] = src[p]
			}
		}
	}
}

// packBBlock packs rows p0..p0+kc-1, columns j0..j0+nc-1 of op(B) into
// ceil(nc/nr) panels of kc×nr (element (p,j) of a panel at p*nr+j), padding
// missing columns with zeros.
func (pl *gemmPlan) packBBlock(dst []float32, transB bool, b []float32, ldb, p0, kc, j0, nc int) {
	nr := pl.nr
	for q0 := 0; q0 < nc; q0 += nr {
		w := min(nr, nc-q0)
		panel := dst[q0*kc : q0*kc+kc*nr]
		if !transB {
			if w == nr && pl.packB != nil && pl.packB(kc, b[p0*ldb+j0+q0:], ldb, panel) {
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
		if w == nr && pl.packBT != nil {
			done = pl.packBT(kc, b[(j0+q0)*ldb+p0:], ldb, panel)
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

// microKernelGo is the plain-Go register-tile kernel, the reference of every
// plan's kernel: for the h×w top-left part of an mr×nr tile,
//
//	acc[i][j] = Σ_{p<kc} a[i*aRow+p*aStep] · b[p*bStep+j]
//	c[i*ldc+j] = alpha·acc[i][j] + beta·c[i*ldc+j]   (only alpha·acc when !load)
//
// It reads all mr rows of a and all nr columns of b (the caller pads
// edges), and touches only the h×w part of c.
func microKernelGo(mr, nr, kc int, a []float32, aRow, aStep int, b []float32, bStep int, c []float32, ldc, h, w int, alpha, beta float32, load bool) {
	var accs [maxMR * maxNR]float32
	acc := accs[:mr*nr]
	for p := 0; p < kc; p++ {
		bp := b[p*bStep : p*bStep+nr]
		for i := 0; i < mr; i++ {
			av := a[i*aRow+p*aStep]
			row := acc[i*nr : i*nr+nr]
			for j := range row {
				row[j] += av * bp[j]
			}
		}
	}
	for i := 0; i < h; i++ {
		cr := c[i*ldc : i*ldc+w]
		for j := range cr {
			t := alpha * acc[i*nr+j]
			if load {
				t += beta * cr[j]
			}
			cr[j] = t
		}
	}
}
