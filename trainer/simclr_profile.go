package trainer

import "time"

func (s *SimCLR) timedLoss(z Tensor[float32]) float64 {
	if s.prof == nil {
		return s.Loss.Forward(z)
	}
	t0 := time.Now()
	l := s.Loss.Forward(z)
	s.prof.Forward["ntxent"] += time.Since(t0)
	return l
}

func (s *SimCLR) timedLossBackward() Tensor[float32] {
	if s.prof == nil {
		return s.Loss.Backward()
	}
	t0 := time.Now()
	d := s.Loss.Backward()
	s.prof.Backward["ntxent"] += time.Since(t0)
	return d
}

func (s *SimCLR) timedOptStep(lr float64) {
	if s.prof == nil {
		s.Opt.Step(lr)
		return
	}
	t0 := time.Now()
	s.Opt.Step(lr)
	s.prof.Backward["optimizer"] += time.Since(t0)
}
