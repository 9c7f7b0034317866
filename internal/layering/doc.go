// Package layering holds no code: its test checks that pairflow's packages
// import one another only in the directions docs/architecture.md draws, so
// that a wrong arrow fails the build's tests instead of a review.
package layering
