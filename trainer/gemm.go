package trainer

// gemm computes C = alpha·op(A)·op(B) + beta·C on row-major matrices, where
// op(A) is m×k (A is stored k×m when tA), op(B) is k×n (B is stored n×k when
// tB) and C is m×n; lda, ldb and ldc are row strides. When beta is 0, C is
// overwritten without being read. Each element of C is computed by one
// goroutine in a fixed order, so results do not depend on the thread count.
//
// This is the seam between the layers and the matrix kernels: float32 goes to
// sgemm (gemm_seam.go), everything else to the plain-Go reference.
func gemm[T Float](tA, tB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if a32, ok := any(a).([]float32); ok {
		sgemm(tA, tB, m, n, k, float32(alpha), a32, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
		return
	}
	gemmRef(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// gemmRef is the plain-Go GEMM: rows of C in parallel chunks, each row
// accumulated over p in increasing order.
func gemmRef[T Float](tA, tB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	parallelFor(m, grainFor(n*k+1), func(lo, hi int) {
		gemmRows(tA, tB, lo, hi, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	})
}

func gemmRows[T Float](tA, tB bool, i0, i1, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	for i := i0; i < i1; i++ {
		cr := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(cr)
		} else if beta != 1 {
			for j := range cr {
				cr[j] *= beta
			}
		}
	}
	switch {
	case !tB:
		// C[i,:] += alpha·A(i,p)·B[p,:]
		for i := i0; i < i1; i++ {
			cr := c[i*ldc : i*ldc+n]
			for p := 0; p < k; p++ {
				var av T
				if tA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if av == 0 {
					continue
				}
				axpy(alpha*av, b[p*ldb:p*ldb+n], cr)
			}
		}
	case !tA:
		// C[i,j] += alpha·dot(A[i,:], B[j,:])
		for i := i0; i < i1; i++ {
			ar := a[i*lda : i*lda+k]
			cr := c[i*ldc : i*ldc+n]
			for j := range cr {
				cr[j] += alpha * dot(ar, b[j*ldb:j*ldb+k])
			}
		}
	default:
		for i := i0; i < i1; i++ {
			cr := c[i*ldc : i*ldc+n]
			for j := range cr {
				var s T
				for p := 0; p < k; p++ {
					s += a[p*lda+i] * b[j*ldb+p]
				}
				cr[j] += alpha * s
			}
		}
	}
}

// axpy: y += a·x.
func axpy[T Float](a T, x, y []T) {
	y = y[:len(x)]
	i := 0
	for ; i+4 <= len(x); i += 4 {
		y[i] += a * x[i]
		y[i+1] += a * x[i+1]
		y[i+2] += a * x[i+2]
		y[i+3] += a * x[i+3]
	}
	for ; i < len(x); i++ {
		y[i] += a * x[i]
	}
}

// dot returns Σ x[i]·y[i], four partial sums combined at the end.
func dot[T Float](x, y []T) T {
	y = y[:len(x)]
	var s0, s1, s2, s3 T
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += x[i] * y[i]
		s1 += x[i+1] * y[i+1]
		s2 += x[i+2] * y[i+2]
		s3 += x[i+3] * y[i+3]
	}
	for ; i < len(x); i++ {
		s0 += x[i] * y[i]
	}
	return (s0 + s1) + (s2 + s3)
}
