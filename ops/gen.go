package ops

// Every amd64 kernel of ops is in generated_amd64.s (declared in
// generated_amd64.go), written by the avo program in _generate, a module of
// its own so that avo stays out of pairflow's go.mod; there is no
// hand-written assembly. Emitted for AVX2 and AVX-512 from one description
// each: the colour kernels, the blur's two-row vertical pass, the resize
// vertical pass and the conversion to float32. AVX-512 only: the byte table
// lookup and the VBMI/VNNI RGB resize horizontal pass and VNNI vertical
// pass. AVX2 only, ported instruction for instruction from the hand-written
// files they replaced: the other resize horizontal passes (resizeh.go), the
// blur's horizontal and single-row vertical passes and widening (blur.go),
// the gray/RGB row shuffles (grayrow.go), solarize, noise and Sobel. CI
// regenerates the files and fails on a difference.
//go:generate sh -c "cd _generate && go run . -out ../generated_amd64.s -stubs ../generated_amd64.go -pkg ops"
