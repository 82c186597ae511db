package api

import "math"

// circlePoint is the i-th of n points spread evenly on a circle of radius
// r around (cx, cy), starting at the top.
func circlePoint(cx, cy, r, i, n int) (int, int) {
	if n <= 0 {
		return cx, cy
	}
	a := 2*math.Pi*float64(i)/float64(n) - math.Pi/2
	return cx + int(math.Round(float64(r)*math.Cos(a))), cy + int(math.Round(float64(r)*math.Sin(a)))
}
