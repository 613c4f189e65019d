package check

// health is one check's state.
type health int8

const (
	unknown   health = iota // no result yet and not yet proven healthy
	healthy                 // rise consecutive successes seen
	unhealthy               // fall consecutive failures seen (or a failure before ever being healthy)
)

func (h health) String() string {
	switch h {
	case healthy:
		return "healthy"
	case unhealthy:
		return "unhealthy"
	default:
		return "unknown"
	}
}

// counter is the rise/fall state machine of one check. It is pure: the
// Monitor feeds it results.
//
//   - unknown → healthy after rise consecutive successes; → unhealthy on
//     the first failure (it never proved healthy, so there is nothing to
//     protect with fall).
//   - healthy → unhealthy after fall consecutive failures.
//   - unhealthy → healthy after rise consecutive successes.
type counter struct {
	rise, fall int // ≥ 1
	state      health
	succ, fail int    // consecutive successes / failures, the rise/fall counters
	runs       uint64 // results observed
	failures   uint64 // failed results observed
}

// observe records one result and reports whether the state changed.
func (c *counter) observe(ok bool) (changed bool) {
	c.runs++
	prev := c.state
	if ok {
		c.succ++
		c.fail = 0
		if c.state != healthy && c.succ >= c.rise {
			c.state = healthy
		}
	} else {
		c.failures++
		c.fail++
		c.succ = 0
		switch {
		case c.state == unknown:
			c.state = unhealthy
		case c.state == healthy && c.fail >= c.fall:
			c.state = unhealthy
		}
	}
	return c.state != prev
}
