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

// ResNet18Shapes lists the distinct convolutions of the CIFAR resnet18 (3×3
// stem, four stages of BasicBlocks, 1×1 stride-2 shortcuts) at views
// 32×32 views as im2col GEMMs, in SmallCNNShapes' form: for each layer the
// forward pass M×N×K (M = views·OutH·OutW, K = Cin·KH·KW, N = Cout), the
// input gradient M×K×N and the weight gradient K×N×M. (The trainer runs
// 512 views; gemmbench uses fewer so that a run stays short: the N and K
// of every shape are the trainer's, M scales with the views.)
func ResNet18Shapes(views int) []GemmShape {
	layers := []struct {
		name         string
		out, cin, kk int // output side, input channels, kernel side
		cout         int
	}{
		{"stem 3→64 32×32", 32, 3, 3, 64},
		{"l1 64→64 32×32", 32, 64, 3, 64},
		{"l2 64→128 s2 16×16", 16, 64, 3, 128},
		{"l2 128→128 16×16", 16, 128, 3, 128},
		{"l2 down 1×1 64→128", 16, 64, 1, 128},
		{"l3 128→256 s2 8×8", 8, 128, 3, 256},
		{"l3 256→256 8×8", 8, 256, 3, 256},
		{"l3 down 1×1 128→256", 8, 128, 1, 256},
		{"l4 256→512 s2 4×4", 4, 256, 3, 512},
		{"l4 512→512 4×4", 4, 512, 3, 512},
		{"l4 down 1×1 256→512", 4, 256, 1, 512},
	}
	var out []GemmShape
	for _, l := range layers {
		m, k, n := views*l.out*l.out, l.kk*l.kk*l.cin, l.cout
		out = append(out,
			GemmShape{l.name + " fwd", m, n, k},
			GemmShape{l.name + " dX", m, k, n},
			GemmShape{l.name + " dW", k, n, m},
		)
	}
	return out
}
