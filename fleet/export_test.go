package fleet

// Buffered is how many bytes s's connection holds that have not been
// written to the server yet.
func Buffered(s *JetStream) int {
	n, _ := s.nc.Buffered()
	return n
}
