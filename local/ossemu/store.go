package ossemu

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/crc64"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// On-disk layout under DataDir:
//
//	buckets/<bucket>/bucket.json            bucket configuration (class, ACL, CORS, creation)
//	buckets/<bucket>/usage.json             storage bookkeeping saved at Close
//	buckets/<bucket>/objects/<hh>/<h>.json  one object's metadata; h = sha256(key), hh = h[:2]
//	buckets/<bucket>/data/<ii>/<id>         one object's bytes; id is random, ii = id[:2]
//	buckets/<bucket>/uploads/<uploadId>/    a multipart upload: upload.json, <n>.json per part, part bytes
//	events/                                 events waiting for delivery to fcemu
//	tmp/                                    scratch space, emptied at Open
//
// An object is written copy-on-write: its bytes go to a fresh data file, then its metadata file
// is replaced by rename. That rename is the commit: a reader finds either the old or the new
// version, never a partial one, and a crash at any point leaves the old version or the new one
// plus an unreferenced data file, which Open removes. Keys never become path names (they are
// hashed), so any key OSS allows is safe on any file system.

// Storage classes.
const (
	classStandard     = "Standard"
	classIA           = "IA"
	classArchive      = "Archive"
	classColdArchive  = "ColdArchive"
	classDeepColdArch = "DeepColdArchive"
)

var storageClasses = map[string]string{ // lower-case spelling → canonical
	"standard": classStandard, "ia": classIA, "archive": classArchive,
	"coldarchive": classColdArchive, "deepcoldarchive": classDeepColdArch,
}

// isArchived reports classes whose objects must be restored before they can be read.
func isArchived(class string) bool {
	return class == classArchive || class == classColdArchive || class == classDeepColdArch
}

// Object types.
const (
	typeNormal     = "Normal"
	typeMultipart  = "Multipart"
	typeAppendable = "Appendable"
)

// ACLs.
const (
	aclDefault         = "default"
	aclPrivate         = "private"
	aclPublicRead      = "public-read"
	aclPublicReadWrite = "public-read-write"
)

// object is one committed object version. It is never modified after commit: a change
// (restore, class, overwrite) commits a new *object, so readers may keep a pointer.
type object struct {
	Key         string            `json:"key"`
	Data        string            `json:"data"` // data file id
	Size        int64             `json:"size"`
	ETag        string            `json:"etag"` // quoted, as sent in headers
	CRC64       uint64            `json:"crc64"`
	ContentMD5  string            `json:"contentMD5,omitempty"` // base64 MD5 of the bytes, when known
	Type        string            `json:"type"`
	Class       string            `json:"class"`
	ACL         string            `json:"acl,omitempty"`
	Modified    time.Time         `json:"modified"`
	ContentType string            `json:"contentType"`
	Header      map[string]string `json:"header,omitempty"` // Cache-Control, Content-Disposition, ...
	Meta        map[string]string `json:"meta,omitempty"`   // x-oss-meta-* by lower-case name
	Restore     *restoreState     `json:"restore,omitempty"`
	MD5State    []byte            `json:"md5State,omitempty"` // Appendable: running MD5 for the next append
}

// restoreState tracks an Archive restore on the simulation clock.
type restoreState struct {
	Requested time.Time `json:"requested"`
	Ready     time.Time `json:"ready"`
	Expires   time.Time `json:"expires"`
	Days      int       `json:"days"`
	Tier      string    `json:"tier,omitempty"`
}

func (o *object) clone() *object {
	c := *o
	c.Header = cloneMap(o.Header)
	c.Meta = cloneMap(o.Meta)
	if o.Restore != nil {
		r := *o.Restore
		c.Restore = &r
	}
	return &c
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// bucketConfig is bucket.json.
type bucketConfig struct {
	Name         string     `json:"name"`
	Created      time.Time  `json:"created"`
	StorageClass string     `json:"storageClass"`
	ACL          string     `json:"acl"`
	Redundancy   string     `json:"redundancy,omitempty"`
	CORS         []CORSRule `json:"cors,omitempty"`
	CORSSet      bool       `json:"corsSet,omitempty"` // a CORS configuration exists (it may be empty)
	ResponseVary bool       `json:"responseVary,omitempty"`
}

// bucket is one bucket's configuration and in-memory index.
type bucket struct {
	name string
	dir  string

	mu      sync.RWMutex
	cfg     bucketConfig
	objects map[string]*object
	keys    []string // sorted keys of objects, for listing
	uploads map[string]*upload
	usage   usageMeter

	dirs sync.Map // shard directories known to exist
}

func (b *bucket) ensureDir(dir string) error {
	if _, ok := b.dirs.Load(dir); ok {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b.dirs.Store(dir, true)
	return nil
}

func keyHash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

func (b *bucket) metaPath(key string) string {
	h := keyHash(key)
	return filepath.Join(b.dir, "objects", h[:2], h+".json")
}

func (b *bucket) dataPath(id string) string {
	return filepath.Join(b.dir, "data", id[:2], id)
}

func newID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// insertKey and removeKey keep b.keys sorted; callers hold b.mu.
func (b *bucket) insertKey(key string) {
	i, found := slices.BinarySearch(b.keys, key)
	if !found {
		b.keys = slices.Insert(b.keys, i, key)
	}
}

func (b *bucket) removeKey(key string) {
	if i, found := slices.BinarySearch(b.keys, key); found {
		b.keys = slices.Delete(b.keys, i, i+1)
	}
}

func (b *bucket) get(key string) *object {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.objects[key]
}

// --- server-level bucket registry ---

func (s *Server) bucket(name string) *bucket {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.buckets[name]
}

func (s *Server) bucketList() []*bucket {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*bucket, 0, len(s.buckets))
	for _, b := range s.buckets {
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

func (s *Server) bucketsDir() string { return filepath.Join(s.root, "buckets") }
func (s *Server) tmpDir() string     { return filepath.Join(s.root, "tmp") }

// createBucket makes a new bucket on disk; it fails with errBucketExists if the name is taken.
func (s *Server) createBucket(name string, cfg bucketConfig) (*bucket, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.buckets[name] != nil {
		return nil, errBucketExists
	}
	cfg.Name = name
	cfg.Created = s.now().UTC()
	if len(cfg.CORS) > 0 {
		cfg.CORSSet = true
	}
	b := &bucket{name: name, dir: filepath.Join(s.bucketsDir(), name), cfg: cfg,
		objects: map[string]*object{}, uploads: map[string]*upload{}}
	b.usage.start(cfg.Created)
	for _, d := range []string{"objects", "data", "uploads"} {
		if err := os.MkdirAll(filepath.Join(b.dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	if err := s.writeJSON(filepath.Join(b.dir, "bucket.json"), cfg); err != nil {
		os.RemoveAll(b.dir)
		return nil, err
	}
	s.buckets[name] = b
	return b, nil
}

// saveBucketConfig persists cfg as b's configuration; callers hold b.mu for writing.
func (s *Server) saveBucketConfig(b *bucket, cfg bucketConfig) error {
	if err := s.writeJSON(filepath.Join(b.dir, "bucket.json"), cfg); err != nil {
		return err
	}
	b.cfg = cfg
	return nil
}

func (s *Server) defaultCORS(b *bucket, rules []CORSRule) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cfg.CORSSet {
		return nil
	}
	cfg := b.cfg
	cfg.CORS, cfg.CORSSet = rules, true
	return s.saveBucketConfig(b, cfg)
}

// removeBucket deletes an empty bucket: its directory is renamed away first, so a crash
// never leaves half a bucket behind.
func (s *Server) removeBucket(name string) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.buckets[name]
	if b == nil {
		return errNoSuchBucket.with("BucketName", name)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.objects) > 0 || len(b.uploads) > 0 {
		return errBucketNotEmpty.with("BucketName", name)
	}
	trash := filepath.Join(s.tmpDir(), "bucket-"+name+"-"+newID())
	if err := os.Rename(b.dir, trash); err != nil {
		s.log.Error("ossemu: delete bucket", "bucket", name, "err", err)
		return errInternal
	}
	delete(s.buckets, name)
	go os.RemoveAll(trash)
	return nil
}

// writeJSON writes v to path atomically (temp file, fsync, rename, fsync dir).
func (s *Server) writeJSON(path string, v any) error {
	tmp, err := s.prepareJSON(path, v)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return s.syncDir(filepath.Dir(path))
}

// prepareJSON writes v next to path under a temporary name and returns that name; renaming it
// onto path commits it.
func (s *Server) prepareJSON(path string, v any) (string, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	tmp := path + ".tmp-" + newID()[:12]
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return "", err
	}
	_, err = f.Write(data)
	if err == nil && s.sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return "", err
	}
	return tmp, nil
}

func (s *Server) syncDir(dir string) error {
	if !s.sync {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	d.Close()
	return err
}

// commitCheck runs under the bucket lock just before a commit; an error cancels it.
type commitCheck func(old *object) *apiError

// commit makes o the current version of its key: metadata file replaced by rename, then the
// index. The replaced version's data file is removed unless o shares it. It returns the
// replaced version, if any.
func (s *Server) commit(b *bucket, o *object, check commitCheck) (*object, *apiError) {
	path := b.metaPath(o.Key)
	if err := b.ensureDir(filepath.Dir(path)); err != nil {
		return nil, s.internal("mkdir", err)
	}
	tmp, err := s.prepareJSON(path, o)
	if err != nil {
		return nil, s.internal("write metadata", err)
	}
	b.mu.Lock()
	old := b.objects[o.Key]
	if check != nil {
		if e := check(old); e != nil {
			b.mu.Unlock()
			os.Remove(tmp)
			return nil, e
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		b.mu.Unlock()
		os.Remove(tmp)
		return nil, s.internal("commit metadata", err)
	}
	b.objects[o.Key] = o
	if old == nil {
		b.insertKey(o.Key)
	}
	b.usage.replace(s.now(), old, o)
	b.mu.Unlock()
	// The data file was fsynced before, the metadata file too; fsyncing the metadata's
	// directory makes the rename durable. On journalling file systems (ext4, xfs) that commit
	// also carries the data file's earlier directory entry, so one directory fsync suffices.
	if err := s.syncDir(filepath.Dir(path)); err != nil {
		s.log.Warn("ossemu: fsync directory", "err", err)
	}
	if old != nil && old.Data != o.Data {
		os.Remove(b.dataPath(old.Data))
	}
	return old, nil
}

// remove deletes key; it returns the removed version, or nil if there was none.
func (s *Server) remove(b *bucket, key string) (*object, *apiError) {
	path := b.metaPath(key)
	b.mu.Lock()
	old := b.objects[key]
	if old == nil {
		b.mu.Unlock()
		return nil, nil
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		b.mu.Unlock()
		return nil, s.internal("delete metadata", err)
	}
	delete(b.objects, key)
	b.removeKey(key)
	b.usage.replace(s.now(), old, nil)
	b.mu.Unlock()
	if err := s.syncDir(filepath.Dir(path)); err != nil {
		s.log.Warn("ossemu: fsync directory", "err", err)
	}
	os.Remove(b.dataPath(old.Data))
	return old, nil
}

// openData opens the bytes of key's current version. The file is opened under the bucket
// lock, so a concurrent overwrite cannot remove it first; once open, it stays readable.
func (s *Server) openData(b *bucket, key string) (*object, *os.File, *apiError) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	o := b.objects[key]
	if o == nil {
		return nil, nil, errNoSuchKey.with("Key", key)
	}
	f, err := os.Open(b.dataPath(o.Data))
	if err != nil {
		return nil, nil, s.internal("open data", err)
	}
	return o, f, nil
}

func (s *Server) internal(what string, err error) *apiError {
	s.log.Error("ossemu: "+what, "err", err)
	return errInternal
}

// --- writing object bytes ---

// dataWriter streams bytes into a new data file while hashing them (MD5 and CRC64), so no
// object is ever held in memory.
type dataWriter struct {
	id   string
	path string
	f    *os.File
	md5  hash.Hash
	crc  hash.Hash64
	n    int64
}

func (b *bucket) newData() (*dataWriter, error) {
	id := newID()
	path := b.dataPath(id)
	if err := b.ensureDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	return createData(id, path)
}

func createData(id, path string) (*dataWriter, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, err
	}
	return &dataWriter{id: id, path: path, f: f, md5: md5.New(), crc: crc64.New(crcTable)}, nil
}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// errTooLarge reports a body longer than the limit given to fill.
var errTooLarge = errors.New("body exceeds the size limit")

// fill copies r into the file, up to limit bytes (more is errTooLarge). sizeHint is the
// expected length (-1 if unknown): large bodies are hashed in a pipeline, so MD5 — the
// slowest step, and one OSS's ETags require — runs beside the CRC and the disk write.
func (d *dataWriter) fill(r io.Reader, limit, sizeHint int64) error {
	if sizeHint < 0 || sizeHint >= pipelineThreshold {
		return d.fillPipelined(r, limit)
	}
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if d.n+int64(n) > limit {
				return errTooLarge
			}
			if _, werr := d.f.Write(buf[:n]); werr != nil {
				return werr
			}
			d.md5.Write(buf[:n])
			d.crc.Write(buf[:n])
			d.n += int64(n)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

const (
	pipelineThreshold = 2 << 20
	pipelineChunk     = 1 << 20
	pipelineDepth     = 4 // chunks in flight per upload: memory stays at 4 MiB per large upload
)

var pipelineBufs = sync.Pool{New: func() any { b := make([]byte, pipelineChunk); return &b }}

// chunk is one buffer on its way through the MD5 and the CRC+write stages.
type chunk struct {
	buf  *[]byte
	n    int
	refs atomic.Int32
}

// fillPipelined reads r in chunks; one goroutine feeds MD5, another CRC64 and the file.
// Each chunk goes back to the free list when both have seen it.
func (d *dataWriter) fillPipelined(r io.Reader, limit int64) error {
	free := make(chan *chunk, pipelineDepth)
	for range pipelineDepth {
		free <- &chunk{buf: pipelineBufs.Get().(*[]byte)}
	}
	defer func() {
		for range pipelineDepth {
			c := <-free
			pipelineBufs.Put(c.buf)
		}
	}()
	release := func(c *chunk) {
		if c.refs.Add(-1) == 0 {
			free <- c
		}
	}
	toMD5 := make(chan *chunk, pipelineDepth)
	toDisk := make(chan *chunk, pipelineDepth)
	var writeErr atomic.Pointer[error]
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for c := range toMD5 {
			d.md5.Write((*c.buf)[:c.n])
			release(c)
		}
	}()
	go func() {
		defer wg.Done()
		for c := range toDisk {
			if writeErr.Load() == nil {
				d.crc.Write((*c.buf)[:c.n])
				if _, err := d.f.Write((*c.buf)[:c.n]); err != nil {
					writeErr.Store(&err)
				}
			}
			release(c)
		}
	}()
	var err error
	for err == nil {
		if p := writeErr.Load(); p != nil {
			err = *p
			break
		}
		c := <-free
		var n int
		n, err = io.ReadFull(r, *c.buf)
		if err == io.ErrUnexpectedEOF {
			err = io.EOF
		}
		if n == 0 {
			free <- c
			continue
		}
		if d.n+int64(n) > limit {
			free <- c
			err = errTooLarge
			break
		}
		d.n += int64(n)
		c.n = n
		c.refs.Store(2)
		toMD5 <- c
		toDisk <- c
	}
	close(toMD5)
	close(toDisk)
	wg.Wait()
	if p := writeErr.Load(); p != nil {
		return *p
	}
	if err == io.EOF {
		return nil
	}
	return err
}

// finish flushes the file to disk; the data is then ready to be committed.
func (d *dataWriter) finish(sync bool) error {
	var err error
	if sync {
		err = d.f.Sync()
	}
	if cerr := d.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// discard removes an uncommitted data file.
func (d *dataWriter) discard() {
	d.f.Close()
	os.Remove(d.path)
}

func (d *dataWriter) md5Sum() []byte { return d.md5.Sum(nil) }

func etagOf(md5sum []byte) string {
	return `"` + strings.ToUpper(hex.EncodeToString(md5sum)) + `"`
}

// --- loading at Open ---

// load reads every bucket, object and upload from disk and removes what crashes left behind:
// temp files and data no metadata refers to.
func (s *Server) load() error {
	if err := os.RemoveAll(s.tmpDir()); err != nil {
		return err
	}
	for _, d := range []string{s.bucketsDir(), s.tmpDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("ossemu: data directory: %w", err)
		}
	}
	entries, err := os.ReadDir(s.bucketsDir())
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		b, err := s.loadBucket(filepath.Join(s.bucketsDir(), e.Name()))
		if err != nil {
			return fmt.Errorf("ossemu: load bucket %s: %w", e.Name(), err)
		}
		if b != nil {
			s.buckets[b.name] = b
		}
	}
	return nil
}

func (s *Server) loadBucket(dir string) (*bucket, error) {
	var cfg bucketConfig
	raw, err := os.ReadFile(filepath.Join(dir, "bucket.json"))
	if errors.Is(err, fs.ErrNotExist) {
		// Never committed (a crash inside createBucket): not a bucket.
		return nil, os.RemoveAll(dir)
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return nil, fmt.Errorf("bucket.json: %w", err)
	}
	b := &bucket{name: cfg.Name, dir: dir, cfg: cfg, objects: map[string]*object{}, uploads: map[string]*upload{}}
	used := map[string]bool{}
	err = filepath.WalkDir(filepath.Join(dir, "objects"), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		if strings.Contains(d.Name(), ".tmp-") {
			return os.Remove(path)
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		o := new(object)
		if err := json.Unmarshal(raw, o); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		fi, err := os.Stat(b.dataPath(o.Data))
		if err != nil {
			// Only a power cut with NoSync can do this; serving the key would fail, so it is
			// left out (its metadata stays for inspection until the key is written again).
			s.log.Error("ossemu: object without its data file, not loaded", "bucket", cfg.Name, "key", o.Key, "err", err)
			return nil
		}
		if fi.Size() > o.Size {
			// An append that never committed; its bytes are not part of the object.
			if err := os.Truncate(b.dataPath(o.Data), o.Size); err != nil {
				return err
			}
		}
		b.objects[o.Key] = o
		used[o.Data] = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	b.keys = make([]string, 0, len(b.objects))
	for k := range b.objects {
		b.keys = append(b.keys, k)
	}
	sort.Strings(b.keys)
	// Data files no metadata refers to were written by operations that never committed.
	err = filepath.WalkDir(filepath.Join(dir, "data"), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.IsDir() && !used[d.Name()] {
			return os.Remove(path)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := s.loadUploads(b); err != nil {
		return nil, err
	}
	s.loadUsage(b)
	return b, nil
}
