package pipeline

import "github.com/pairflow/pairflow/sampler"

// prefetchEpoch hands a remote dataset the order in which this rank will
// first read each shard in epoch e (from position from on), so that shards
// are fetched ahead of the workers. The first worker to reach an epoch does
// it; a local dataset ignores it. The walk costs one sampler At per position
// until every shard has been seen (at most one epoch).
func (p *Pipeline) prefetchEpoch(e int64, s *sampler.Stream) {
	if !p.ds.Remote() {
		return
	}
	for {
		last := p.prefetched.Load()
		if last >= e {
			return
		}
		if p.prefetched.CompareAndSwap(last, e) {
			break
		}
	}
	var from int64
	if e == p.startEpoch {
		from = p.startPos
	}
	n := p.ds.NumShards()
	seen := make([]bool, n)
	order := make([]int, 0, n)
	for pos := from; pos < s.Len() && len(order) < n; pos++ {
		j, _ := p.ds.Locate(int(s.At(pos)))
		if !seen[j] {
			seen[j] = true
			order = append(order, j)
		}
	}
	p.ds.Prefetch(order)
}
