package ops

// The AVX2 and AVX-512 kernels in generated_amd64.s (the colour kernels,
// the blur's two-row vertical pass, the resize vertical pass and the
// AVX-512 RGB horizontal pass, the conversion to float32 and the byte table
// lookup; their declarations in generated_amd64.go) are written by the avo
// program in _generate, a module of its own so that avo stays out of
// pairflow's go.mod. CI regenerates them and fails on a difference. The
// kernels in the other *_amd64.s files are hand-written.
//go:generate sh -c "cd _generate && go run . -out ../generated_amd64.s -stubs ../generated_amd64.go -pkg ops"
