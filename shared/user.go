package vodfc

import "time"

// User is an account.
type User struct {
	ID        string
	Email     string
	Nickname  string
	Bio       string
	Tier      Tier
	Roles     []Role
	Verified  bool
	CreatedAt time.Time
}
