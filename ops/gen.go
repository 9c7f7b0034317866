package ops

// The AVX2 and AVX-512 colour kernels in generated_amd64.s (and their
// declarations in generated_amd64.go) are written by the avo program in
// _generate, a module of its own so that avo stays out of pairflow's
// go.mod. CI regenerates them and fails on a difference.
//go:generate sh -c "cd _generate && go run . -out ../generated_amd64.s -stubs ../generated_amd64.go -pkg ops"
