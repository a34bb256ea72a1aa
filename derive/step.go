package derive

import "time"

// Step returns the time step of t, floor(unix(t) / period) as in RFC 6238
// with T0 = 0. The counter is 64 bits wide, so it is correct far beyond
// 2038. Times before 1970 give step 0. period must be positive.
func Step(t time.Time, period time.Duration) uint64 {
	secs := t.Unix()
	if secs < 0 {
		return 0
	}
	return uint64(secs) / uint64(period/time.Second)
}

// StepStart returns the first instant of step.
func StepStart(step uint64, period time.Duration) time.Time {
	return time.Unix(int64(step*uint64(period/time.Second)), 0)
}

// Left returns how long the step containing t still lasts.
func Left(t time.Time, period time.Duration) time.Duration {
	end := StepStart(Step(t, period)+1, period)
	return end.Sub(t)
}
