package main

import (
	"archive/zip"
	"context"
	"debug/elf"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"vodfc.dev/local/manifest"
)

func init() {
	commands["package"] = command{summary: "zip each function's code directory as its FC runtime expects (make package)", run: runPackage}
}

// zipTime is the modification time written into every zip entry, so the same binary gives
// the same zip (and the same code checksum in FC) on every build.
var zipTime = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

func runPackage(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("package", flag.ContinueOnError)
	dist := fs.String("dist", "dist", "directory the zips are written to")
	path := fs.String("manifest", "", "s.yaml (default: s.yaml in this directory or the nearest parent)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	p, err := findManifest(*path)
	if err != nil {
		return err
	}
	m, err := manifest.Load(p, manifest.Options{})
	if err != nil {
		return err
	}
	zips, err := packageAll(m, *dist)
	for _, z := range zips {
		fmt.Println(z)
	}
	return err
}

// packageAll writes one zip per function: the contents of its code directory at the root of
// the zip (FC unpacks it to /code), the executable with its exec bit.
func packageAll(m *manifest.Manifest, dist string) ([]string, error) {
	if err := os.MkdirAll(dist, 0o755); err != nil {
		return nil, err
	}
	var out []string
	var errs []error
	for _, f := range m.Functions {
		z, err := packageFunction(m, f, dist)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.Name, err))
			continue
		}
		out = append(out, z)
	}
	return out, errors.Join(errs...)
}

func packageFunction(m *manifest.Manifest, f *manifest.Function, dist string) (string, error) {
	code := f.CodeDir(m)
	exe := f.Executable()
	if exe == "" {
		return "", errors.New("s.yaml names no executable (handler for go1, customRuntimeConfig.command for custom runtimes)")
	}
	if err := checkExecutable(filepath.Join(code, exe)); err != nil {
		return "", err
	}
	var files []string
	err := filepath.WalkDir(code, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	sort.Strings(files)
	name := filepath.Join(dist, filepath.Base(filepath.Clean(code))+".zip")
	if abs, _ := filepath.Abs(name); strings.HasPrefix(abs, code+string(filepath.Separator)) {
		return "", fmt.Errorf("the zip %s would land inside the code directory %s", name, code)
	}
	tmp := name + ".tmp"
	zf, err := os.Create(tmp)
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp)
	zw := zip.NewWriter(zf)
	for _, p := range files {
		if err := addFile(zw, code, p, filepath.Join(code, exe)); err != nil {
			zf.Close()
			return "", err
		}
	}
	if err := zw.Close(); err != nil {
		zf.Close()
		return "", err
	}
	if err := zf.Close(); err != nil {
		return "", err
	}
	return name, os.Rename(tmp, name)
}

func addFile(zw *zip.Writer, root, path, exe string) error {
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	rel, err := filepath.Rel(root, path)
	if err != nil {
		return err
	}
	h, err := zip.FileInfoHeader(info)
	if err != nil {
		return err
	}
	h.Name = filepath.ToSlash(rel)
	h.Method = zip.Deflate
	h.Modified = zipTime
	mode := info.Mode().Perm() | 0o444
	if path == exe {
		mode |= 0o755 // FC starts it: it must be executable in the zip, whatever the disk says
	}
	h.SetMode(mode)
	w, err := zw.CreateHeader(h)
	if err != nil {
		return err
	}
	src, err := os.Open(path)
	if err != nil {
		return err
	}
	defer src.Close()
	_, err = io.Copy(w, src)
	return err
}

// checkExecutable makes sure FC can run the file: a linux/amd64 ELF executable.
func checkExecutable(path string) error {
	ef, err := elf.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%s does not exist: run make build (or the pre-deploy go build) first", path)
		}
		return fmt.Errorf("%s is not a Linux executable (%v): build it with GOOS=linux GOARCH=amd64, as make build does", path, err)
	}
	defer ef.Close()
	if ef.Machine != elf.EM_X86_64 || ef.Type != elf.ET_EXEC && ef.Type != elf.ET_DYN {
		return fmt.Errorf("%s is a %s %s, FC runs linux/amd64 executables: build it with GOOS=linux GOARCH=amd64", path, ef.Machine, ef.Type)
	}
	return nil
}
