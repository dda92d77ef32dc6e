package auth

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"io"
	"slices"
	"strings"
	"sync"
)

// commonPasswordsGz is the sorted, lower-case, newline-separated list of refused passwords
// (provenance and licence in the package doc; rebuilt by internal/mkcommonpw).
//
//go:embed common-passwords.txt.gz
var commonPasswordsGz []byte

// commonPasswords is decompressed on first use, so functions that never check a password
// (all but auth) never pay for it.
var commonPasswords = sync.OnceValue(func() []string {
	zr, err := gzip.NewReader(bytes.NewReader(commonPasswordsGz))
	if err != nil {
		panic("auth: embedded common-password list is corrupt: " + err.Error())
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		panic("auth: embedded common-password list is corrupt: " + err.Error())
	}
	list := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	if !slices.IsSorted(list) {
		panic("auth: embedded common-password list is not sorted")
	}
	return list
})

// IsCommonPassword reports whether password, ignoring case, is in the list of common
// passwords.
func IsCommonPassword(password string) bool {
	_, found := slices.BinarySearch(commonPasswords(), strings.ToLower(NormalizePassword(password)))
	return found
}
