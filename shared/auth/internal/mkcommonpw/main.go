// Command mkcommonpw rebuilds common-passwords.txt.gz, the list of passwords auth refuses, from
// the passwords.json of the npm package @zxcvbn-ts/language-common (MIT; see the auth package
// doc for provenance). It keeps the entries a password policy of 8–128 characters could ever
// meet, lower-cased, sorted and de-duplicated, one per line, gzip-compressed. Run from shared/:
//
//	npm pack @zxcvbn-ts/language-common@4.1.3
//	tar xzf zxcvbn-ts-language-common-4.1.3.tgz package/src/passwords.json
//	go run ./auth/internal/mkcommonpw package/src/passwords.json auth/common-passwords.txt.gz
package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"unicode/utf8"
)

// The bounds of auth.ValidatePassword: shorter or longer entries could never be chosen.
const minRunes, maxRunes = 8, 128

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: mkcommonpw passwords.json out.txt.gz")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "mkcommonpw:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	raw, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	var all []string
	if err := json.Unmarshal(raw, &all); err != nil {
		return fmt.Errorf("%s: want a JSON array of strings: %w", in, err)
	}
	var keep []string
	for _, p := range all {
		p = strings.ToLower(p)
		if n := utf8.RuneCountInString(p); n < minRunes || n > maxRunes || strings.ContainsAny(p, "\r\n") {
			continue
		}
		keep = append(keep, p)
	}
	slices.Sort(keep)
	keep = slices.Compact(keep)
	if len(keep) < 10000 {
		return fmt.Errorf("only %d usable passwords in %s; the policy wants at least 10000", len(keep), in)
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return err
	}
	for _, p := range keep {
		zw.Write([]byte(p))
		zw.Write([]byte{'\n'})
	}
	if err := zw.Close(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "mkcommonpw: %d of %d passwords, %d bytes compressed\n", len(keep), len(all), buf.Len())
	return os.WriteFile(out, buf.Bytes(), 0o644)
}
