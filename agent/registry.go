package agent

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"hash/maphash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// fingerprintMax is how many leading bytes of a file identify it together with
// its device and inode. Like Filebeat's fingerprint identity, it tells a reused
// inode (new file, same number) from the file the registry remembers.
const fingerprintMax = 1024

// fileID is the identity of a file on the local machine.
type fileID struct {
	Dev uint64 `json:"dev"`
	Ino uint64 `json:"ino"`
}

func (id fileID) String() string { return fmt.Sprintf("%d-%d", id.Dev, id.Ino) }

func statID(fi fs.FileInfo) (fileID, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, false
	}
	return fileID{Dev: uint64(st.Dev), Ino: st.Ino}, true //nolint:unconvert // Dev is int32 on some platforms
}

// fingerprint hashes the first n bytes of f (n ≤ fingerprintMax, n ≤ size).
// It returns the number of bytes hashed and the hash.
func fingerprint(f *os.File, size int64) (int, uint64, error) {
	n := int(min(size, fingerprintMax))
	var b [fingerprintMax]byte // on the stack: a read pass fingerprints
	buf := b[:n]
	if _, err := f.ReadAt(buf, 0); err != nil && !errors.Is(err, io.EOF) {
		return 0, 0, err
	}
	h := fnv.New64a()
	h.Write(buf)
	return n, h.Sum64(), nil
}

// entry is the registry's record of one file. Offset fields are updated from
// Kafka acknowledgement callbacks; the rest only by the file's owner.
type entry struct {
	ID   fileID
	Task string

	mu       sync.Mutex
	path     string
	fpLen    int
	fp       uint64
	acked    int64 // end offset of the last line Kafka acknowledged
	gen      uint64
	failed   bool         // a record of generation gen failed: do not advance
	lastSeen time.Time    // last time a scan found the file
	epoch    string       // this file's content since it was found or last truncated (see renew)
	dirty    bool         // a field the registry file holds changed since Save last looked (lastSeen: its hour); set by touch
	anyDirty *atomic.Bool // the registry's (see Registry.anyDirty), once put: nil before

	epochSeq atomic.Uint64 // Registry.seq when epoch was set: Save has persisted it once savedSeq reaches it

	read atomic.Int64 // end offset of the last line handed to the producer
	size atomic.Int64 // file size at the last look, for lag

	// readLook is the file as a scan last found it with nothing to read
	// (under mu): while a stat still shows it, the scan does not open the
	// file again. A reused inode has another modification time.
	readLook fileLook

	// A filtered event (include_lines / exclude_lines) of generation gen
	// waiting for the records sent before it (see skip), under mu: skipTo is
	// its end offset, skipAfter the end offset of the last record sent
	// before it. None when skipTo <= acked.
	skipAfter, skipTo int64
}

// touch records (under e.mu) that a field the registry file holds changed,
// for the next Save.
func (e *entry) touch() {
	e.dirty = true
	if e.anyDirty != nil && !e.anyDirty.Load() {
		e.anyDirty.Store(true)
	}
}

// ack advances the committed offset for a record of generation gen.
// Acknowledgements are delivered in order per partition, and all lines of one
// file share a partition, so within a generation offsets only grow.
func (e *entry) ack(gen uint64, offset int64) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if gen != e.gen || e.failed {
		return false
	}
	if offset > e.acked {
		e.acked = offset
		e.touch()
	}
	if e.skipTo > e.acked && offset >= e.skipAfter {
		// This record is, or follows, the last one sent before filtered
		// events: every record before them is acknowledged (see skip).
		e.acked = e.skipTo
		e.touch()
	}
	return true
}

// skip commits the end offset of an event of generation gen that was
// filtered out (include_lines / exclude_lines): it produces no record, but
// its bytes are consumed, so the file's offset must move past it, or the
// last lines of a file, when all filtered, would be read again after every
// restart.
//
// The rule (at-least-once): a filtered event's end offset is committed only
// once Kafka has acknowledged every record sent before it. sent is the end
// offset of the last record of gen handed to the producer before the event
// (the generation's start offset if none). If that record is acknowledged
// already (acked >= sent: acked only reaches an offset once everything
// before it is acknowledged), the offset is committed at once; otherwise it
// is kept in skipTo and committed by ack when that record, or a later one,
// is acknowledged: records of one file are acknowledged in order (one
// partition), so that acknowledgement comes after every earlier one. A later
// filtered event replaces the pending one: it ends further, and a record
// sent in between commits past the first anyway when acknowledged. A failed
// generation commits nothing more: its lines, filtered ones included, are
// read again from the committed offset.
func (e *entry) skip(gen uint64, sent, offset int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if gen != e.gen || e.failed {
		return
	}
	if e.acked >= sent {
		e.acked = max(e.acked, offset)
		e.touch()
		return
	}
	e.skipAfter, e.skipTo = sent, offset
}

// fail marks generation gen as failed: later acknowledgements of the same
// generation are ignored, and the harvester re-reads from the committed offset.
// It reports whether this call marked it (the first failure of gen).
func (e *entry) fail(gen uint64) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if gen != e.gen || e.failed {
		return false
	}
	e.failed = true
	return true
}

// begin starts a new generation at offset and returns it. Acknowledgements of
// earlier generations no longer move the offset.
func (e *entry) begin(offset int64) uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.gen++
	e.failed = false
	e.acked = offset
	e.touch()
	e.skipAfter, e.skipTo = 0, 0
	e.read.Store(offset)
	return e.gen
}

func (e *entry) isFailed(gen uint64) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.failed && e.gen == gen
}

func (e *entry) committed() int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.acked
}

// registryFile is the on-disk form, versioned for future changes.
type registryFile struct {
	Version int             `json:"version"`
	Tasks   []string        `json:"tasks"` // tasks that have run on this host (start_position applies only before)
	Files   []registryEntry `json:"files"`
}

type registryEntry struct {
	ID       fileID    `json:"id"`
	Path     string    `json:"path"`
	Task     string    `json:"task"`
	Offset   int64     `json:"offset"`
	FPLen    int       `json:"fp_len"`
	FP       string    `json:"fp"`
	LastSeen time.Time `json:"last_seen"`
	Epoch    string    `json:"epoch,omitempty"`
}

// Registry remembers, per file identity, the offset of the last line Kafka
// acknowledged. It is written atomically (temp file, fsync, rename, fsync of
// the directory), so a crash leaves either the old or the new registry.
type Registry struct {
	path   string
	saveMu sync.Mutex
	// The hash of the last file written (saved says there is one): writes
	// that would not change the file are skipped. A hash, not the bytes:
	// these are ~1 KiB per file, kept for as long as the agent runs.
	seed    maphash.Seed
	saved   bool
	lastSum uint64
	unsaved bool // the last save failed: the next one encodes whatever the dirty flags say

	mu      sync.Mutex
	entries map[fileID]*entry
	tasks   map[string]bool

	seq      atomic.Uint64 // bumped for every new epoch
	savedSeq atomic.Uint64 // every epoch up to this seq is on disk

	// changed is set (under mu) when the tasks or the set of entries
	// change; an entry's own fields set its dirty flag, and anyDirty. Save
	// encodes the registry only when one of them is set: an idle agent
	// saves every second, and with anyDirty unset it does not even look at
	// its thousands of entries' flags.
	changed  bool
	anyDirty atomic.Bool
}

// OpenRegistry loads dir/registry.json, or starts empty if it does not exist.
// A corrupt registry is an error: silently starting over would re-ship or skip
// every file.
func OpenRegistry(dir string) (*Registry, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create data_dir %q: %w", dir, err)
	}
	r := &Registry{
		path:    filepath.Join(dir, "registry.json"),
		seed:    maphash.MakeSeed(),
		entries: make(map[fileID]*entry),
		tasks:   make(map[string]bool),
	}
	data, err := os.ReadFile(r.path)
	if errors.Is(err, fs.ErrNotExist) {
		return r, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read registry: %w", err)
	}
	var rf registryFile
	if err := json.Unmarshal(data, &rf); err != nil {
		return nil, fmt.Errorf("registry %q is corrupt (move it aside to start over, files will be re-read by start_position): %w", r.path, err)
	}
	for _, t := range rf.Tasks {
		r.tasks[t] = true
	}
	for _, fe := range rf.Files {
		var fp uint64
		if _, err := fmt.Sscanf(fe.FP, "%x", &fp); err != nil && fe.FPLen > 0 {
			return nil, fmt.Errorf("registry %q: file %s: bad fingerprint %q", r.path, fe.Path, fe.FP)
		}
		e := &entry{ID: fe.ID, Task: fe.Task, path: fe.Path, fpLen: fe.FPLen, fp: fp, acked: fe.Offset, lastSeen: fe.LastSeen, epoch: fe.Epoch}
		e.read.Store(fe.Offset)
		e.anyDirty = &r.anyDirty
		if e.epoch == "" { // written by a version without event ids
			r.renew(e)
		}
		r.entries[fe.ID] = e
	}
	return r, nil
}

// Path is the registry file.
func (r *Registry) Path() string { return r.path }

// knownTask reports whether task has run on this host before, and marks it.
func (r *Registry) knownTask(task string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	known := r.tasks[task]
	r.tasks[task] = true
	r.changed = r.changed || !known
	return known
}

func (r *Registry) lookup(id fileID) *entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.entries[id]
}

func (r *Registry) put(e *entry) {
	e.mu.Lock()
	e.anyDirty = &r.anyDirty
	e.mu.Unlock()
	r.mu.Lock()
	r.entries[e.ID] = e
	r.changed = true
	r.mu.Unlock()
}

func (r *Registry) remove(id fileID) {
	r.mu.Lock()
	delete(r.entries, id)
	r.changed = true
	r.mu.Unlock()
}

// prune forgets files not seen by any scan for longer than age, so the
// registry does not grow without bound. Entries of files being read are
// refreshed by every scan and never pruned.
func (r *Registry) prune(now time.Time, age time.Duration) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for id, e := range r.entries {
		e.mu.Lock()
		old := now.Sub(e.lastSeen) > age
		e.mu.Unlock()
		if old {
			delete(r.entries, id)
			r.changed = true
			n++
		}
	}
	return n
}

// epochBytes is the size of an epoch's random value: 96 bits make two files
// sharing one negligible even across many hosts and years.
const epochBytes = 12

// renew gives e a new epoch: the first part of the ids of its events (see
// eventID). An epoch names one content of one file: a file gets one when it
// is found, and a new one when it is truncated, because its offsets then
// start again at 0 for different lines. Call persist before the first event
// of the new epoch is sent.
func (r *Registry) renew(e *entry) {
	var b [epochBytes]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	e.mu.Lock()
	e.epoch = base64.RawURLEncoding.EncodeToString(b[:])
	e.touch()
	e.mu.Unlock()
	e.epochSeq.Store(r.seq.Add(1))
}

// persist returns once e's epoch is on disk, saving the registry if no save
// has covered it yet (saves are shared: many new files cost one write). An
// epoch lost in a crash would give the re-sent lines new ids, which would
// duplicate them in the index.
func (r *Registry) persist(e *entry) error {
	if e.epochSeq.Load() <= r.savedSeq.Load() {
		return nil
	}
	r.saveMu.Lock()
	defer r.saveMu.Unlock()
	if e.epochSeq.Load() <= r.savedSeq.Load() { // a save while we waited covered it
		return nil
	}
	return r.save()
}

func (e *entry) currentEpoch() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.epoch
}

// Save writes the registry atomically.
func (r *Registry) Save() error {
	r.saveMu.Lock()
	defer r.saveMu.Unlock()
	return r.save()
}

func (r *Registry) save() error {
	// Every epoch numbered up to seq is set before the snapshot below.
	seq := r.seq.Load()
	rf, changed := r.snapshot()
	if r.saved && !changed && !r.unsaved {
		// Nothing changed since the last save: an idle agent saves every
		// second, and encoding thousands of entries is its main cost.
		if seq > r.savedSeq.Load() {
			r.savedSeq.Store(seq)
		}
		return nil
	}
	sort.Strings(rf.Tasks)
	sort.Slice(rf.Files, func(i, j int) bool { return rf.Files[i].Path < rf.Files[j].Path })
	data, err := json.MarshalIndent(rf, "", " ")
	if err != nil {
		r.unsaved = true
		return err
	}
	if sum := maphash.Bytes(r.seed, data); !r.saved || sum != r.lastSum {
		if err := writeFileAtomic(r.path, data); err != nil {
			r.unsaved = true // the dirty flags were cleared: do not skip the next save
			return err
		}
		r.saved, r.lastSum = true, sum
	}
	r.unsaved = false
	if seq > r.savedSeq.Load() { // only save moves it, under saveMu
		r.savedSeq.Store(seq)
	}
	return nil
}

// snapshot clears the dirty flags and reports whether any was set; only then
// (or when the last save failed) does it copy the registry into rf.
func (r *Registry) snapshot() (rf registryFile, changed bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	changed, r.changed = r.changed, false
	// An entry sets its flag, then anyDirty: one set after the Swap is seen
	// by this walk or by the next Save's.
	if r.anyDirty.Swap(false) {
		for _, e := range r.entries {
			e.mu.Lock()
			changed = changed || e.dirty
			e.dirty = false
			e.mu.Unlock()
		}
	}
	if !changed && !r.unsaved && r.saved {
		return rf, false
	}
	rf.Version = 1
	for t := range r.tasks {
		rf.Tasks = append(rf.Tasks, t)
	}
	for _, e := range r.entries {
		e.mu.Lock()
		rf.Files = append(rf.Files, registryEntry{
			ID: e.ID, Path: e.path, Task: e.Task, Offset: e.acked,
			FPLen: e.fpLen, FP: fmt.Sprintf("%x", e.fp), LastSeen: e.lastSeen, Epoch: e.epoch,
		})
		e.mu.Unlock()
	}
	return rf, true
}

// writeFileAtomic replaces path with data: temp file in the same directory,
// fsync, rename, fsync of the directory.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rename to %s: %w", path, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return nil
}

// matches reports whether f (of the given size) is the file this entry
// describes: its first fpLen bytes hash the same.
func (e *entry) matches(f *os.File, size int64) bool {
	e.mu.Lock()
	fpLen, fp := e.fpLen, e.fp
	e.mu.Unlock()
	if fpLen == 0 {
		return true
	}
	if size < int64(fpLen) {
		return false
	}
	_, got, err := fingerprint(f, int64(fpLen))
	return err == nil && got == fp
}

// update records where the file was found and a longer fingerprint once the
// file has grown.
func (e *entry) update(path string, fpLen int, fp uint64, now time.Time) {
	e.mu.Lock()
	e.path = path
	if fpLen > e.fpLen {
		e.fpLen, e.fp = fpLen, fp
	}
	e.lastSeen = now
	e.touch()
	e.mu.Unlock()
}

func (e *entry) fingerprint() (int, uint64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.fpLen, e.fp
}

// setFingerprint replaces the fingerprint of a file that was truncated: its
// first bytes are new.
func (e *entry) setFingerprint(n int, fp uint64) {
	e.mu.Lock()
	e.fpLen, e.fp = n, fp
	e.touch()
	e.mu.Unlock()
}

// readTo records that the file, as l describes it, has nothing to read.
func (e *entry) readTo(l fileLook) {
	e.mu.Lock()
	e.readLook = l
	e.mu.Unlock()
}

// unchangedSinceRead reports whether the file, as l describes it, is as it
// was when readTo found nothing to read in it.
func (e *entry) unchangedSinceRead(l fileLook) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.readLook == l && l.size == e.acked
}

// seen records that a scan found the file. Scans run every scan_frequency:
// only a new hour of lastSeen makes the registry dirty, or an idle agent
// would rewrite the file at every scan (it is saved with the next change,
// and prune reads the memory).
func (e *entry) seen(now time.Time) {
	e.mu.Lock()
	if now.Unix()/3600 != e.lastSeen.Unix()/3600 {
		e.touch()
	}
	e.lastSeen = now
	e.mu.Unlock()
}

// lag is the number of bytes in task's files not yet acknowledged by Kafka,
// from the sizes observed by the last scan or harvester look.
func (r *Registry) lag(task string) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var n int64
	for _, e := range r.entries {
		if e.Task != task {
			continue
		}
		if d := e.size.Load() - e.committed(); d > 0 {
			n += d
		}
	}
	return n
}
