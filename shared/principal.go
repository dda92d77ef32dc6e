package vodfc

// Tier is what a user pays for; it decides, among other things, which renditions they may watch.
type Tier string

const (
	TierFree   Tier = "free"
	TierMember Tier = "member"
)

// Valid reports whether t is a known tier.
func (t Tier) Valid() bool { return t == TierFree || t == TierMember }

// Role grants operator powers. Users have no role unless their address is in ADMIN_EMAILS.
type Role string

const RoleAdmin Role = "admin"

// Principal is the caller of a request as proven by a verified access token. Handlers never
// trust anything else about who is calling.
type Principal struct {
	UserID  string
	Tier    Tier
	Roles   []Role
	TokenID string // the access token's jti, for logs
}

// Has reports whether the principal holds role r.
func (p Principal) Has(r Role) bool {
	for _, x := range p.Roles {
		if x == r {
			return true
		}
	}
	return false
}
