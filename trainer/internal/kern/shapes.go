package kern

// GemmShape names one GEMM C[M×N] = A[M×K]·B[K×N].
type GemmShape struct {
	Name    string
	M, N, K int
}

// SmallCNNShapes lists smallcnn's convolutions at 512 views of 32×32 as
// im2col GEMMs (M = 512·H·W, K = 9·Cin, N = Cout): for each layer the
// forward pass M×K×N, the input gradient M×N×K and the weight gradient
// K×M×N (written as m×k×n). Benchmarks use them to compare with BLAS.
func SmallCNNShapes() []GemmShape {
	layers := []struct {
		name    string
		hw, cin int
		cout    int
	}{
		{"conv1 3→32 32×32", 32, 3, 32},
		{"conv2 32→64 16×16", 16, 32, 64},
		{"conv3 64→128 8×8", 8, 64, 128},
	}
	var out []GemmShape
	for _, l := range layers {
		m, k, n := 512*l.hw*l.hw, 9*l.cin, l.cout
		out = append(out,
			GemmShape{l.name + " fwd", m, n, k},
			GemmShape{l.name + " dX", m, k, n},
			GemmShape{l.name + " dW", k, n, m},
		)
	}
	return out
}
