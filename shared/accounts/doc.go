// Package accounts owns email accounts: sign-up with an emailed code, login, sessions kept
// alive by rotating refresh tokens, password reset, profiles and the admin's tier switch. It
// is the only writer of the users, user_emails, email_codes, refresh_tokens and
// refresh_families tables. Auth serves the auth function's routes (/api/v1/auth/...),
// Profiles the users function's (/api/v1/me, /api/v1/users/{id}, /api/v1/admin/users/...).
// The cryptography (JWTs, argon2id, code MACs) is shared/auth's; this package decides when it
// runs and keeps the records and limits around it.
//
// # Enumeration
//
// Register, resend and forgot-password answer the same status and body for every address, and
// do the same work for all of them: one password hash where a password is sent, the same
// number of Tablestore round trips, and exactly one email sent synchronously before answering
// ("here is your code", "you already have an account" or "no account uses this address").
// Mail is sent before the response because FC may freeze an instance once it has answered,
// so work left running after the response could stall for minutes; sending in both paths
// keeps the answer's timing alike, and a mail failure is a 503 in both paths. Login runs a
// dummy argon2id verification for unknown addresses and reads a row in their place, and says
// email_not_verified only after a correct password. All limits are keyed by the address
// whether or not it has an account.
//
// # Addresses
//
// An address is trimmed and its domain lower-cased; mail goes to it as typed otherwise. The
// account is identified by the whole address lower-cased: nearly every provider treats the
// local part case-insensitively, and two accounts for Alice@ and alice@ would be a trap.
// No provider-specific folding (dots or +tags at Gmail) is done: those are different
// addresses to the rest of the world too. Internationalised addresses are not accepted.
//
// # Refresh tokens
//
// A login starts a family: a row in refresh_families (absolute end 30 days later) and one
// row per token in refresh_tokens, keyed by the token's SHA-256. Rotation is one conditional
// update of the presented token's row from active to rotated, recording the child's hash; the
// loser of a race sees rotated. The child token is derived, not stored: HMAC-SHA256 of the
// parent under a key derived from the signing key, so the same parent always yields the same
// child. That makes the grace window exact: the same token presented again within
// RefreshGrace (a response lost on the way) gets the same child as long as that child has not
// been used itself; any other use of a rotated token is reuse, and revokes the family.
// Logout revokes the family; a password reset moves the account's sessions_after forward,
// which ends every family started under the old value (each family keeps the value it read).
package accounts
