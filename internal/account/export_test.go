package account

// SetCheckPassword replaces the password check of s, so that tests can
// count the hashes a sign-in runs, or hold one under way.
func SetCheckPassword(s *Service, check func(encoded, password string) bool) { s.check = check }

// Waiting returns how many sign-ins wait for a slot of the hash gate.
func Waiting(s *Service) int { return len(s.gate.queue) }
