package ops

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/pairflow/pairflow/internal/cpu"
)

// geoRecOp is a test op that records that it ran (its id, in order) and
// draws n numbers, so tests can see order, reach and stream independence.
type geoRecOp struct {
	id, n int
	log   *[]int
	draws *[]uint64
}

func (o geoRecOp) Apply(s *Scratch, src *Image, r *Rand, p *Params) (*Image, error) {
	*o.log = append(*o.log, o.id)
	for range o.n {
		*o.draws = append(*o.draws, r.Uint64())
	}
	return src, nil
}

func (o geoRecOp) Spec() Spec { return Spec{"op": "test_rec"} }

func geoMustDecode(t *testing.T, js string) Op {
	t.Helper()
	op, err := Decode([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	return op
}

// TestComposeStreamsIndependent: adding an op at the end, or wrapping an
// op in RandomApply(p=1), leaves every other op's draws unchanged; an op
// drawing more numbers does not shift its neighbours.
func TestComposeStreamsIndependent(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	src := geoRandImage(rng, 64, 48, 3)
	rrc := geoMustDecode(t, `{"op":"random_resized_crop","size":16}`)
	flip := geoMustDecode(t, `{"op":"random_horizontal_flip"}`)
	rot := geoMustDecode(t, `{"op":"random_rot90"}`)
	a, _ := NewCompose(rrc, flip)
	b, _ := NewCompose(rrc, flip, rot)
	wrapped, _ := NewRandomApply(1, rrc, flip)
	var s Scratch
	for seed := range uint64(100) {
		var pa, pb, pw Params
		r := NewRand(seed, 0, 0, 0)
		a.Apply(&s, src, &r, &pa)
		b.Apply(&s, src, &r, &pb)
		wr := r
		wrapped.Apply(&s, src, &wr, &pw)
		if pa.Crop != pb.Crop || pa.HFlip != pb.HFlip || pa.Crop != pw.Crop || pa.HFlip != pw.HFlip {
			t.Fatalf("seed %d: draws changed: %+v / %+v / %+v", seed, pa, pb, pw)
		}
		if !pb.Has(OpRot90) || pa.Has(OpRot90) {
			t.Fatalf("seed %d: Applied bits %b %b", seed, pa.Applied, pb.Applied)
		}
	}
	// Draw counts: op 1's numbers do not depend on how many op 0 draws.
	var log []int
	var d1, d2 []uint64
	r := NewRand(7, 0, 0, 0)
	c1, _ := NewCompose(geoRecOp{0, 1, &log, &d1}, geoRecOp{1, 3, &log, &d2})
	c1.Apply(&s, src, &r, &Params{})
	want := append([]uint64(nil), d2...)
	d1, d2 = nil, nil
	c2, _ := NewCompose(geoRecOp{0, 5, &log, &d1}, geoRecOp{1, 3, &log, &d2})
	c2.Apply(&s, src, &r, &Params{})
	if !reflect.DeepEqual(d2, want) {
		t.Fatalf("op 1 draws shifted by op 0's draw count: %v vs %v", d2, want)
	}
	// The composition does not advance the caller's generator.
	before := r
	c2.Apply(&s, src, &r, &Params{})
	if r != before {
		t.Fatal("Compose advanced the caller's Rand")
	}
}

func TestRandomApplyProbabilityAndBits(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	src := geoRandImage(rng, 8, 8, 3)
	flip := geoMustDecode(t, `{"op":"random_horizontal_flip","p":0.5}`)
	var s Scratch
	for _, prob := range []float64{0, 0.8, 1} {
		ra, _ := NewRandomApply(prob, flip)
		hits := 0
		const n = 4000
		for seed := range uint64(n) {
			var p Params
			r := NewRand(seed, 3, 0, 0)
			if _, err := ra.Apply(&s, src, &r, &p); err != nil {
				t.Fatal(err)
			}
			if p.Has(OpHFlip) {
				hits++
			} else if p.HFlip {
				t.Fatal("HFlip set without its Applied bit")
			}
		}
		got := float64(hits) / n
		if got < prob-0.03 || got > prob+0.03 {
			t.Fatalf("RandomApply(p=%v) reached its op %.3f of the time", prob, got)
		}
	}
}

func TestRandomOrderAndOneOf(t *testing.T) {
	var s Scratch
	src := NewImage(2, 2, 1)
	var log []int
	var d [3][]uint64
	ro, _ := NewRandomOrder(geoRecOp{0, 1, &log, &d[0]}, geoRecOp{1, 1, &log, &d[1]}, geoRecOp{2, 1, &log, &d[2]})
	orders := map[[3]int]int{}
	for seed := range uint64(3000) {
		log = log[:0]
		r := NewRand(seed, 0, 0, 0)
		ro.Apply(&s, src, &r, &Params{})
		if len(log) != 3 {
			t.Fatalf("RandomOrder ran %v", log)
		}
		orders[[3]int{log[0], log[1], log[2]}]++
	}
	if len(orders) != 6 {
		t.Fatalf("RandomOrder produced %d of 6 orders", len(orders))
	}
	for o, n := range orders {
		if n < 400 || n > 600 {
			t.Fatalf("order %v drawn %d of 3000 times", o, n)
		}
	}
	// Op i's draw does not depend on where the order put it.
	first := map[uint64]uint64{}
	for seed := range uint64(200) {
		d[1] = d[1][:0]
		r := NewRand(seed, 0, 0, 0)
		ro.Apply(&s, src, &r, &Params{})
		sub := r.Derive(1)
		if d[1][0] != sub.Uint64() {
			t.Fatalf("seed %d: op 1 did not get sub-stream 1", seed)
		}
		first[seed] = d[1][0]
	}

	oo, _ := NewOneOf(nil, geoRecOp{0, 0, &log, &d[0]}, geoRecOp{1, 0, &log, &d[1]})
	counts := [2]int{}
	for seed := range uint64(2000) {
		log = log[:0]
		r := NewRand(seed, 0, 0, 0)
		oo.Apply(&s, src, &r, &Params{})
		if len(log) != 1 {
			t.Fatalf("OneOf ran %v", log)
		}
		counts[log[0]]++
	}
	if counts[0] < 900 || counts[0] > 1100 {
		t.Fatalf("OneOf uniform counts %v", counts)
	}
	ow, _ := NewOneOf([]float64{0, 3}, geoRecOp{0, 0, &log, &d[0]}, geoRecOp{1, 0, &log, &d[1]})
	for seed := range uint64(200) {
		log = log[:0]
		r := NewRand(seed, 0, 0, 0)
		ow.Apply(&s, src, &r, &Params{})
		if log[0] != 1 {
			t.Fatal("OneOf with weights [0, 3] chose op 0")
		}
	}
}

// TestGeometryDecodeRoundTrip: Spec → JSON → Decode → Spec is stable for
// every op of this file set, and bad parameters are errors.
func TestGeometryDecodeRoundTrip(t *testing.T) {
	good := []string{
		`{"op":"resize","size":[20,30]}`,
		`{"op":"resize","size":64}`,
		`{"op":"random_resized_crop","size":224,"scale":[0.08,1],"ratio":[0.75,1.3333333333333333]}`,
		`{"op":"random_resized_crop","size":[24,32]}`,
		`{"op":"center_crop","size":[5,7],"fill":3}`,
		`{"op":"random_crop","size":32,"padding":4,"pad_if_needed":true,"fill":0}`,
		`{"op":"random_crop","size":32,"padding":[1,2]}`,
		`{"op":"random_horizontal_flip","p":0.25}`,
		`{"op":"random_vertical_flip"}`,
		`{"op":"random_rot90"}`,
		`{"op":"random_rotation","degrees":30,"fill":128}`,
		`{"op":"random_rotation","degrees":[-10,45]}`,
		`{"op":"compose","ops":[{"op":"random_rot90"},{"op":"random_vertical_flip","p":1}]}`,
		`{"op":"random_apply","p":0.3,"ops":[{"op":"random_rot90"}]}`,
		`{"op":"random_order","ops":[{"op":"random_rot90"},{"op":"random_horizontal_flip"}]}`,
		`{"op":"one_of","ops":[{"op":"random_rot90"},{"op":"random_horizontal_flip"}],"p":[1,3]}`,
		`{"op":"one_of","ops":[{"op":"random_rot90"}]}`,
	}
	for _, js := range good {
		op := geoMustDecode(t, js)
		b1, err := json.Marshal(op.Spec())
		if err != nil {
			t.Fatal(err)
		}
		op2 := geoMustDecode(t, string(b1))
		b2, _ := json.Marshal(op2.Spec())
		if string(b1) != string(b2) {
			t.Fatalf("%s: round trip %s != %s", js, b1, b2)
		}
	}
	bad := []string{
		`{"op":"resize","size":0}`,
		`{"op":"resize","size":[1,2,3]}`,
		`{"op":"resize","size":64,"extra":1}`,
		`{"op":"random_resized_crop","size":32,"scale":[0.5,0.1]}`,
		`{"op":"random_resized_crop","size":32,"ratio":[0,1]}`,
		`{"op":"random_resized_crop","size":99999999}`,
		`{"op":"random_horizontal_flip","p":1.5}`,
		`{"op":"random_crop","size":8,"padding":[1,2,3]}`,
		`{"op":"random_crop","size":8,"padding":-1}`,
		`{"op":"random_rotation","degrees":[10,-10]}`,
		`{"op":"random_apply","p":-0.1,"ops":[]}`,
		`{"op":"random_order","p":0.5,"ops":[]}`,
		`{"op":"one_of","ops":[]}`,
		`{"op":"one_of","ops":[{"op":"random_rot90"}],"p":[-1]}`,
		`{"op":"compose","ops":[{"op":"no_such_op"}]}`,
		`{"op":"compose","ops":{}}`,
	}
	for _, js := range bad {
		if _, err := Decode([]byte(js)); err == nil {
			t.Errorf("%s: decoded without error", js)
		}
	}
	if _, err := Decode([]byte(`{"op":"resize","size":0}`)); !errors.Is(err, ErrParam) {
		t.Errorf("bad size: %v, want ErrParam", err)
	}
}

// TestGeometryDegenerate runs every geometry op on tiny, thin and odd
// images of both channel counts: no panic, the promised size, pixels set.
func TestGeometryDegenerate(t *testing.T) {
	specs := []string{
		`{"op":"random_resized_crop","size":[3,5],"scale":[0.01,1]}`,
		`{"op":"resize","size":[1,1]}`,
		`{"op":"resize","size":2}`,
		`{"op":"center_crop","size":[5,3],"fill":9}`,
		`{"op":"random_crop","size":6}`,
		`{"op":"random_crop","size":[2,9],"padding":[3,0,1,2],"pad_if_needed":true}`,
		`{"op":"random_horizontal_flip","p":1}`,
		`{"op":"random_vertical_flip","p":1}`,
		`{"op":"random_rot90"}`,
		`{"op":"random_rotation","degrees":180,"fill":200}`,
		`{"op":"one_of","ops":[{"op":"random_rot90"},{"op":"random_rotation","degrees":[-1,1]}]}`,
	}
	rng := rand.New(rand.NewPCG(31, 32))
	var s Scratch
	for _, js := range specs {
		op := geoMustDecode(t, js)
		for _, sz := range append(geoSizes, [2]int{1, 40}, [2]int{40, 1}) {
			for _, c := range []int{1, 3} {
				src := geoRandImage(rng, sz[0], sz[1], c)
				for seed := range uint64(8) {
					var p Params
					r := NewRand(seed, 0, 0, 0)
					out, err := op.Apply(&s, src, &r, &p)
					if err != nil {
						t.Fatalf("%s on %v×%d: %v", js, sz, c, err)
					}
					if err := out.Validate(); err != nil || out.C != c || out.W < 1 || out.H < 1 {
						t.Fatalf("%s on %v×%d: bad output %s %v", js, sz, c, geoFmt(out), err)
					}
					if w, h := shapeOf(op, sz[0], sz[1]); (w != 0 || h != 0) && (w != out.W || h != out.H) {
						t.Fatalf("%s on %v: OutSize %dx%d, got %s", js, sz, w, h, geoFmt(out))
					}
				}
			}
		}
	}
}

// geoNoFuse hides an op's type so applyAll cannot fuse it.
type geoNoFuse struct{ Op }

// TestFusedCropFlip: RandomResizedCrop followed by RandomHorizontalFlip is
// fused into one pass; it must give the same bytes and draws as the two
// ops run one after the other, on every tier.
func TestFusedCropFlip(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	rrc := geoMustDecode(t, `{"op":"random_resized_crop","size":[24,31],"scale":[0.05,1]}`)
	flip := geoMustDecode(t, `{"op":"random_horizontal_flip"}`)
	fused, _ := NewCompose(rrc, flip)
	plain, _ := NewCompose(rrc, geoNoFuse{flip})
	for _, tr := range cpu.Tiers() {
		restore := setTier(tr)
		for _, sz := range geoSizes {
			for _, c := range []int{1, 3} {
				src := geoRandImage(rng, sz[0], sz[1], c)
				var s1, s2 Scratch
				for seed := range uint64(12) {
					var p1, p2 Params
					r := NewRand(seed, 0, 0, 0)
					a, err1 := fused.Apply(&s1, src, &r, &p1)
					b, err2 := plain.Apply(&s2, src, &r, &p2)
					if err1 != nil || err2 != nil {
						t.Fatal(err1, err2)
					}
					if p1.Applied != p2.Applied || p1.Crop != p2.Crop || p1.HFlip != p2.HFlip || !bytes.Equal(geoTight(a), geoTight(b)) {
						t.Fatalf("%v %v c=%d seed %d: fused differs (%+v vs %+v)", tr, sz, c, seed, p1, p2)
					}
				}
			}
		}
		restore()
	}
}
