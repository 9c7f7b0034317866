package imageio

// The one amd64 kernel, yccRow2AVX2 (ycc_amd64.s, declared in
// ycc_decl_amd64.go), is written by the avo program in _generate, a module
// of its own so that avo stays out of pairflow's go.mod; CI regenerates the
// files and fails on a difference.
//go:generate sh -c "cd _generate && go run . -out ../ycc_amd64.s -stubs ../ycc_decl_amd64.go -pkg imageio"
