package trainer

// Steps is the number of steps taken (the schedule's position).
func (c *Classifier) Steps() int64 { return c.step }

// SetSteps sets the step counter (after loading a checkpoint).
func (c *Classifier) SetSteps(n int64) { c.step = n }

// Steps is the number of steps taken (the schedule's position).
func (p *Inpainter) Steps() int64 { return p.step }

// SetSteps sets the step counter (after loading a checkpoint).
func (p *Inpainter) SetSteps(n int64) { p.step = n }

// Steps is the number of steps taken (the schedule's position).
func (p *RelativePatch) Steps() int64 { return p.step }

// SetSteps sets the step counter (after loading a checkpoint).
func (p *RelativePatch) SetSteps(n int64) { p.step = n }
