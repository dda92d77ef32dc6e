// Command keys makes the secrets a deployment needs and prints them as shell exports, for the
// shell that runs `s deploy` (or a secret store): a fresh Ed25519 pair for access tokens, a
// random playback token key and a random key for danmaku sender hashes. Nothing is written to disk and no key is ever fixed in code.
//
//	go run ./shared/cmd/keys > vodfc-secrets.sh   # keep it somewhere safe; source it before s deploy
//
// To rotate the token key, deploy the new public key next to the old one in JWT_VERIFY_KEYS
// (comma separated) before switching JWT_SIGNING_KEY, so tokens already issued stay valid.
package main

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"

	"vodfc.dev/vodfc/auth"
	"vodfc.dev/vodfc/playback"
)

func main() {
	signing, verify, err := auth.GenerateKey()
	if err != nil {
		fmt.Fprintln(os.Stderr, "keys:", err)
		os.Exit(1)
	}
	playbackKey := make([]byte, playback.MinKeyBytes)
	senderKey := make([]byte, 32)
	if _, err := rand.Read(playbackKey); err != nil {
		fmt.Fprintln(os.Stderr, "keys:", err)
		os.Exit(1)
	}
	if _, err := rand.Read(senderKey); err != nil {
		fmt.Fprintln(os.Stderr, "keys:", err)
		os.Exit(1)
	}
	fmt.Println("# vodfc secrets: everything but JWT_VERIFY_KEYS (public) is secret.")
	fmt.Printf("export JWT_SIGNING_KEY='%s'\n", signing)
	fmt.Printf("export JWT_VERIFY_KEYS='%s'\n", verify)
	fmt.Printf("export PLAYBACK_TOKEN_KEY='%s'\n", base64.StdEncoding.EncodeToString(playbackKey))
	fmt.Printf("export DANMAKU_SENDER_KEY='%s'\n", base64.StdEncoding.EncodeToString(senderKey))
}
