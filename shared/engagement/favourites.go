package engagement

import (
	"context"
	"errors"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/httpapi"
	"vodfc.dev/vodfc/tablestore"
	"vodfc.dev/vodfc/videos"
)

// DefaultFolder is the id of the folder every user has, created on first use.
const DefaultFolder = "default"

// Folder columns and the edge's.
const (
	colName        = "name"
	colDescription = "description"
	colCount       = "count"
	colDeleting    = "deleting"
	colUpdatedAt   = "updated_at"
	colFolders     = "folders"
	folderColPref  = "f_"
	maxFolderName  = 40
	maxFolderDesc  = 200
)

// Folder is a favourites folder.
type Folder struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Count       int64     `json:"count"`
	Default     bool      `json:"default"`
	CreatedAt   time.Time `json:"created_at"`
}

// FavouriteState is the answer to adding or removing a video from a folder.
type FavouriteState struct {
	Favourited bool     `json:"favourited"`
	Folders    []string `json:"folders"`
	Favourites int64    `json:"favourites"`
}

func folderKey(ref string) (tablestore.Key, error) {
	p, err := splitRef(ref, 2)
	if err != nil {
		return nil, err
	}
	return tablestore.K("user_id", p[0], "folder_id", p[1]), nil
}

func favKey(videoID, userID string) tablestore.Key {
	return tablestore.K("video_id", videoID, "user_id", userID)
}

func entryKey(userID, folderID string, at int64, videoID string) tablestore.Key {
	return tablestore.K("user_id", userID, "folder_id", folderID, "added_at", at, "video_id", videoID)
}

func validFolderID(id string) bool { return id == DefaultFolder || vodfc.ValidID(id) }

func errFolderNotFound() error { return vodfc.NotFound("folder_not_found", "no such folder") }

func folderFromRow(r *tablestore.Row) Folder {
	id := r.Key.Str("folder_id")
	return Folder{ID: id, Name: r.Str(colName), Description: r.Str(colDescription), Count: r.Int(colCount),
		Default: id == DefaultFolder, CreatedAt: time.UnixMilli(r.Int(colCreatedAt)).UTC()}
}

// Folders lists userID's folders, the default folder first (creating it on first use), then
// the others oldest first.
func (s *Service) Folders(ctx context.Context, userID string) ([]Folder, error) {
	rows, _, err := s.db.GetRange(ctx, tablestore.FavFolders.Name, tablestore.Range{
		Start: tablestore.K("user_id", userID, "folder_id", tablestore.Min), End: tablestore.K("user_id", userID, "folder_id", tablestore.Max),
		Limit: s.cfg.MaxFolders + 5, Where: []tablestore.Pred{tablestore.Eq(colDeleting, false)}})
	if err != nil {
		return nil, storageErr(err)
	}
	out := make([]Folder, 0, len(rows)+1)
	hasDefault := false
	for _, r := range rows {
		f := folderFromRow(r)
		hasDefault = hasDefault || f.Default
		out = append(out, f)
	}
	if !hasDefault {
		f, err := s.ensureDefault(ctx, userID)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Default != out[j].Default {
			return out[i].Default
		}
		return out[i].CreatedAt.Before(out[j].CreatedAt)
	})
	return out, nil
}

// ensureDefault creates the default folder unless it exists; a put that expects no row makes
// racing first uses create it once.
func (s *Service) ensureDefault(ctx context.Context, userID string) (Folder, error) {
	now := s.now().UnixMilli()
	cols := tablestore.Cols{colName: "Favourites", colDescription: "", colCount: int64(0), colDeleting: false, colCreatedAt: now, colUpdatedAt: now}
	err := s.db.Put(ctx, tablestore.FavFolders.Name, tablestore.K("user_id", userID, "folder_id", DefaultFolder), cols, tablestore.IfNotExists())
	if err != nil && !tablestore.IsConditionFailed(err) {
		return Folder{}, storageErr(err)
	}
	return s.folder(ctx, userID, DefaultFolder)
}

// folder reads one live folder.
func (s *Service) folder(ctx context.Context, userID, folderID string) (Folder, error) {
	if !validFolderID(folderID) {
		return Folder{}, errFolderNotFound()
	}
	r, err := s.db.Get(ctx, tablestore.FavFolders.Name, tablestore.K("user_id", userID, "folder_id", folderID))
	if err != nil {
		return Folder{}, storageErr(err)
	}
	if r == nil && folderID == DefaultFolder {
		return s.ensureDefault(ctx, userID)
	}
	if r == nil || r.Bool(colDeleting) {
		return Folder{}, errFolderNotFound()
	}
	return folderFromRow(r), nil
}

// FolderInput is the body of folder creation and changes.
type FolderInput struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
}

func (in FolderInput) validate(create bool) (tablestore.Cols, error) {
	cols := tablestore.Cols{}
	if in.Name == nil && create {
		return nil, vodfc.InvalidField("name", "is required")
	}
	if in.Name != nil {
		name := strings.TrimSpace(CleanText(*in.Name, false))
		if n := utf8.RuneCountInString(name); n < 1 || n > maxFolderName {
			return nil, &vodfc.Error{Kind: vodfc.KindInvalid, Code: "invalid_folder_name", Message: "a folder name has 1 to 40 characters",
				Fields: map[string]string{"name": "must be 1 to 40 characters"}}
		}
		cols[colName] = name
	}
	if in.Description != nil {
		d := strings.TrimSpace(CleanText(*in.Description, true))
		if utf8.RuneCountInString(d) > maxFolderDesc {
			return nil, &vodfc.Error{Kind: vodfc.KindInvalid, Code: "invalid_folder_description", Message: "a folder description has at most 200 characters",
				Fields: map[string]string{"description": "must be at most 200 characters"}}
		}
		cols[colDescription] = d
	}
	if len(cols) == 0 {
		return nil, vodfc.Invalid("nothing_to_change", "send a name or a description")
	}
	return cols, nil
}

// CreateFolder adds a folder (at most MaxFolders per user).
func (s *Service) CreateFolder(ctx context.Context, userID string, in FolderInput) (Folder, error) {
	cols, err := in.validate(true)
	if err != nil {
		return Folder{}, err
	}
	existing, err := s.Folders(ctx, userID)
	if err != nil {
		return Folder{}, err
	}
	if len(existing) >= s.cfg.MaxFolders {
		return Folder{}, vodfc.Conflict("folder_limit", "you have as many folders as allowed; delete one first")
	}
	now := s.now()
	id := vodfc.NewSortableID(now)
	if _, ok := cols[colDescription]; !ok {
		cols[colDescription] = ""
	}
	cols[colCount], cols[colDeleting], cols[colCreatedAt], cols[colUpdatedAt] = int64(0), false, now.UnixMilli(), now.UnixMilli()
	if err := s.db.Put(ctx, tablestore.FavFolders.Name, tablestore.K("user_id", userID, "folder_id", id), cols, tablestore.IfNotExists()); err != nil {
		return Folder{}, storageErr(err)
	}
	return s.folder(ctx, userID, id)
}

// UpdateFolder renames a folder or changes its description.
func (s *Service) UpdateFolder(ctx context.Context, userID, folderID string, in FolderInput) (Folder, error) {
	cols, err := in.validate(false)
	if err != nil {
		return Folder{}, err
	}
	if _, err := s.folder(ctx, userID, folderID); err != nil {
		return Folder{}, err
	}
	cols[colUpdatedAt] = s.now().UnixMilli()
	_, err = s.db.Update(ctx, tablestore.FavFolders.Name, tablestore.K("user_id", userID, "folder_id", folderID),
		tablestore.Change{Set: cols}, tablestore.IfExists().Where(tablestore.Eq(colDeleting, false)))
	if tablestore.IsConditionFailed(err) {
		return Folder{}, errFolderNotFound()
	}
	if err != nil {
		return Folder{}, storageErr(err)
	}
	return s.folder(ctx, userID, folderID)
}

// DeleteFolder removes a folder and takes its videos out of it. The folder is hidden at once;
// removing its entries may outlive the request, in which case rollup finishes it.
func (s *Service) DeleteFolder(ctx context.Context, userID, folderID string) error {
	if folderID == DefaultFolder {
		return vodfc.Conflict("default_folder_permanent", "the default folder cannot be deleted")
	}
	if _, err := s.folder(ctx, userID, folderID); err != nil {
		return err
	}
	ref := userID + "/" + folderID
	op, err := s.Ledger.BeginTask(ctx, taskFolderDelete, ref)
	if err != nil {
		return err
	}
	_, err = s.db.Update(ctx, tablestore.FavFolders.Name, tablestore.K("user_id", userID, "folder_id", folderID),
		tablestore.Change{Set: tablestore.Cols{colDeleting: true, colUpdatedAt: s.now().UnixMilli()}}, tablestore.IfExists())
	if tablestore.IsConditionFailed(err) {
		op.End(ctx)
		return errFolderNotFound()
	}
	if err != nil {
		op.End(ctx)
		return storageErr(err)
	}
	if err := s.resumeFolderDelete(ctx, ref); err != nil {
		return err // the intent stays: rollup finishes the deletion
	}
	op.End(ctx)
	return nil
}

// resumeFolderDelete removes every entry of a folder marked deleting, then the folder itself.
// It is the task a dead DeleteFolder leaves to rollup, so it must be idempotent.
func (s *Service) resumeFolderDelete(ctx context.Context, ref string) error {
	p, err := splitRef(ref, 2)
	if err != nil {
		return err
	}
	userID, folderID := p[0], p[1]
	var vids []string
	err = s.db.Scan(ctx, tablestore.FavEntries.Name, tablestore.Range{
		Start: tablestore.K("user_id", userID, "folder_id", folderID, "added_at", tablestore.Min, "video_id", tablestore.Min),
		End:   tablestore.K("user_id", userID, "folder_id", folderID, "added_at", tablestore.Max, "video_id", tablestore.Max),
	}, func(r *tablestore.Row) error { vids = append(vids, r.Key.Str("video_id")); return nil })
	if err != nil {
		return storageErr(err)
	}
	// Each removal is a change of its own (intent, edge, counters), eight at a time.
	sem := make(chan struct{}, 8)
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	for _, vid := range vids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if _, err := s.removeFromFolder(ctx, userID, folderID, vid); err != nil {
				mu.Lock()
				firstErr = cmpErr(firstErr, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	err = s.db.Delete(ctx, tablestore.FavFolders.Name, tablestore.K("user_id", userID, "folder_id", folderID),
		tablestore.IfExists().Where(tablestore.Eq(colDeleting, true)))
	if err != nil && !tablestore.IsConditionFailed(err) {
		return storageErr(err)
	}
	return nil
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// AddToFolder puts videoID into one of userID's folders. A video's favourite count counts
// users: it moves only when the video enters the user's first folder. Idempotent.
func (s *Service) AddToFolder(ctx context.Context, userID, folderID, videoID string) (FavouriteState, error) {
	if _, err := s.Gate.Actionable(ctx, videoID, userID); err != nil {
		return FavouriteState{}, err
	}
	f, err := s.folder(ctx, userID, folderID)
	if err != nil {
		return FavouriteState{}, err
	}
	col := folderColPref + folderID
	edge, err := s.db.Get(ctx, tablestore.VideoFavourites.Name, favKey(videoID, userID))
	if err != nil {
		return FavouriteState{}, storageErr(err)
	}
	if edge != nil && edge.Has(col) {
		return s.favState(ctx, videoID, edge)
	}
	if f.Count >= int64(s.cfg.MaxFolderEntries) {
		return FavouriteState{}, vodfc.Conflict("folder_full", "the folder holds as many videos as allowed")
	}
	at := s.stamp()
	listing := tablestore.Write{Table: tablestore.FavEntries.Name, Key: entryKey(userID, folderID, at, videoID), Put: tablestore.Cols{}, Cond: tablestore.Always}
	fc, vc := Counter{FolderCount, userID + "/" + folderID}, Counter{VideoFavourites, videoID}
	op, err := s.Ledger.Begin(ctx, "favourite", []Counter{fc, vc}, listing)
	if err != nil {
		return FavouriteState{}, err
	}
	// "Column absent" is written as "= 0 or missing": added_at is never 0.
	var res map[string]int64
	res, err = s.db.Update(ctx, tablestore.VideoFavourites.Name, favKey(videoID, userID),
		tablestore.Change{Set: tablestore.Cols{col: at}, Incr: map[string]int64{colFolders: 1}},
		tablestore.Always.Where(tablestore.Eq(col, int64(0)).OrMissing()))
	if tablestore.IsConditionFailed(err) { // a racing add won; our listing row is surplus
		var drop []tablestore.Write
		if e, err := s.db.Get(ctx, tablestore.VideoFavourites.Name, favKey(videoID, userID), col); err != nil || e == nil || e.Int(col) != at {
			drop = append(drop, tablestore.Write{Table: tablestore.FavEntries.Name, Key: listing.Key, Delete: true, Cond: tablestore.Always})
		} // else the winner stamped the same instant and the row is its own
		op.End(ctx, drop...)
		return s.favStateNow(ctx, videoID, userID)
	}
	if err != nil { // maybe applied, maybe not: the intent stays and rollup recounts
		return FavouriteState{}, storageErr(err)
	}
	if _, err := op.Add(ctx, fc, 1); err != nil && !errors.Is(err, ErrOwnerGone) {
		return FavouriteState{}, storageErr(err)
	}
	var snap map[string]int64
	if res[colFolders] == 1 { // the video entered the user's first folder
		if snap, err = op.Add(ctx, vc, 1); err != nil {
			return FavouriteState{}, storageErr(err)
		}
	}
	op.End(ctx)
	if snap != nil {
		s.CacheSnapshot(ctx, videoID, snap)
		s.Tally(ctx, videoID, videos.ColFavourites, 1)
	}
	return s.favStateNow(ctx, videoID, userID)
}

// RemoveFromFolder takes videoID out of one of userID's folders; idempotent.
func (s *Service) RemoveFromFolder(ctx context.Context, userID, folderID, videoID string) (FavouriteState, error) {
	if !validFolderID(folderID) {
		return FavouriteState{}, errFolderNotFound()
	}
	if _, err := s.Gate.Readable(ctx, videoID, userID); err != nil {
		return FavouriteState{}, err
	}
	if _, err := s.folder(ctx, userID, folderID); err != nil {
		return FavouriteState{}, err
	}
	if _, err := s.removeFromFolder(ctx, userID, folderID, videoID); err != nil {
		return FavouriteState{}, err
	}
	return s.favStateNow(ctx, videoID, userID)
}

// removeFromFolder is the change itself, shared with folder deletion; it reports whether the
// entry existed.
func (s *Service) removeFromFolder(ctx context.Context, userID, folderID, videoID string) (bool, error) {
	col := folderColPref + folderID
	for attempt := 0; ; attempt++ {
		edge, err := s.db.Get(ctx, tablestore.VideoFavourites.Name, favKey(videoID, userID))
		if err != nil {
			return false, storageErr(err)
		}
		if edge == nil || !edge.Has(col) {
			return false, nil
		}
		at := edge.Int(col)
		fc, vc := Counter{FolderCount, userID + "/" + folderID}, Counter{VideoFavourites, videoID}
		op, err := s.Ledger.Begin(ctx, "unfavourite", []Counter{fc, vc})
		if err != nil {
			return false, err
		}
		var res map[string]int64
		res, err = s.db.Update(ctx, tablestore.VideoFavourites.Name, favKey(videoID, userID),
			tablestore.Change{Delete: []string{col}, Incr: map[string]int64{colFolders: -1}},
			tablestore.IfExists().Where(tablestore.Eq(col, at)))
		if tablestore.IsConditionFailed(err) && attempt < 3 {
			op.End(ctx) // the edge changed under us: look again
			continue
		}
		if err != nil { // maybe applied, maybe not: the intent stays and rollup recounts
			return false, storageErr(err)
		}
		if _, err := op.Add(ctx, fc, -1); err != nil && !errors.Is(err, ErrOwnerGone) {
			return false, storageErr(err)
		}
		var snap map[string]int64
		if res[colFolders] == 0 { // the video left the user's last folder
			if snap, err = op.Add(ctx, vc, -1); err != nil {
				return false, storageErr(err)
			}
			// An empty edge is removed, unless a racing add refilled it meanwhile.
			if err := s.db.Delete(ctx, tablestore.VideoFavourites.Name, favKey(videoID, userID),
				tablestore.IfExists().Where(tablestore.Eq(colFolders, int64(0)))); err != nil && !tablestore.IsConditionFailed(err) {
				s.log.WarnContext(ctx, "removing an empty favourite edge failed", "err", err)
			}
		}
		op.End(ctx, tablestore.Write{Table: tablestore.FavEntries.Name, Key: entryKey(userID, folderID, at, videoID), Delete: true, Cond: tablestore.Always})
		if snap != nil {
			s.CacheSnapshot(ctx, videoID, snap)
			s.Tally(ctx, videoID, videos.ColFavourites, -1)
		}
		return true, nil
	}
}

func (s *Service) favStateNow(ctx context.Context, videoID, userID string) (FavouriteState, error) {
	edge, err := s.db.Get(ctx, tablestore.VideoFavourites.Name, favKey(videoID, userID))
	if err != nil {
		return FavouriteState{}, storageErr(err)
	}
	return s.favState(ctx, videoID, edge)
}

func (s *Service) favState(ctx context.Context, videoID string, edge *tablestore.Row) (FavouriteState, error) {
	st := FavouriteState{Folders: edgeFolders(edge)}
	st.Favourited = len(st.Folders) > 0
	c, err := s.count(ctx, videoID)
	if err != nil {
		return FavouriteState{}, err
	}
	st.Favourites = c.Favourites
	return st, nil
}

// edgeFolders lists the folders a favourite edge names.
func edgeFolders(edge *tablestore.Row) []string {
	out := []string{}
	if edge == nil {
		return out
	}
	for name := range edge.Cols {
		if id, ok := strings.CutPrefix(name, folderColPref); ok {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// FolderEntry is one video of a folder.
type FolderEntry struct {
	VideoID string        `json:"video_id"`
	AddedAt time.Time     `json:"added_at"`
	Video   *VideoSummary `json:"video"`
}

// FolderVideos lists the videos of one of userID's folders, newest first.
func (s *Service) FolderVideos(ctx context.Context, userID, folderID string, page httpapi.Page) (httpapi.List[FolderEntry], error) {
	if _, err := s.folder(ctx, userID, folderID); err != nil {
		return httpapi.List[FolderEntry]{}, err
	}
	names := []string{"user_id", "folder_id", "added_at", "video_id"}
	start := tablestore.K("user_id", userID, "folder_id", folderID, "added_at", tablestore.Max, "video_id", tablestore.Max)
	if page.Cursor != "" {
		k, err := cursorKey(page.Cursor, tablestore.K("user_id", userID, "folder_id", folderID), names...)
		if err != nil {
			return httpapi.List[FolderEntry]{}, err
		}
		start = k
	}
	rows, next, err := s.db.GetRange(ctx, tablestore.FavEntries.Name, tablestore.Range{Start: start,
		End:      tablestore.K("user_id", userID, "folder_id", folderID, "added_at", tablestore.Min, "video_id", tablestore.Min),
		Backward: true, Limit: page.Limit})
	if err != nil {
		return httpapi.List[FolderEntry]{}, storageErr(err)
	}
	col := folderColPref + folderID
	keys := make([]tablestore.Key, len(rows))
	for i, r := range rows {
		keys[i] = favKey(r.Key.Str("video_id"), userID)
	}
	edges, err := s.db.BatchGet(ctx, tablestore.VideoFavourites.Name, keys, col)
	if err != nil {
		return httpapi.List[FolderEntry]{}, storageErr(err)
	}
	out := httpapi.List[FolderEntry]{Items: []FolderEntry{}}
	var ids []string
	var stale []tablestore.Write
	for i, r := range rows {
		at := r.Key.Int("added_at")
		if edges[i] == nil || edges[i].Int(col) != at {
			stale = append(stale, tablestore.Write{Table: tablestore.FavEntries.Name, Key: r.Key, Delete: true, Cond: tablestore.Always})
			continue
		}
		vid := r.Key.Str("video_id")
		ids = append(ids, vid)
		out.Items = append(out.Items, FolderEntry{VideoID: vid, AddedAt: time.UnixMicro(at).UTC()})
	}
	s.dropStale(ctx, stale)
	sums, err := s.summaries(ctx, userID, ids)
	if err != nil {
		return httpapi.List[FolderEntry]{}, err
	}
	for i := range out.Items {
		out.Items[i].Video = sums[out.Items[i].VideoID]
	}
	out.NextCursor = keyCursor(next)
	return out, nil
}

// countVideoFavourites is the truth of video.favourites: users with the video in a folder.
func (s *Service) countVideoFavourites(ctx context.Context, videoID string) (int64, error) {
	return countRange(ctx, s.db, tablestore.VideoFavourites.Name,
		tablestore.K("video_id", videoID, "user_id", tablestore.Min), tablestore.K("video_id", videoID, "user_id", tablestore.Max),
		colFolders, tablestore.Gt(colFolders, int64(0)))
}

// countFolder is the truth of folder.count: entries whose edge still names the folder with the
// same time.
func (s *Service) countFolder(ctx context.Context, ref string) (int64, error) {
	p, err := splitRef(ref, 2)
	if err != nil {
		return 0, err
	}
	userID, folderID := p[0], p[1]
	col := folderColPref + folderID
	var n int64
	var batch []*tablestore.Row
	flush := func() error {
		keys := make([]tablestore.Key, len(batch))
		for i, r := range batch {
			keys[i] = favKey(r.Key.Str("video_id"), userID)
		}
		edges, err := s.db.BatchGet(ctx, tablestore.VideoFavourites.Name, keys, col)
		if err != nil {
			return err
		}
		for i, r := range batch {
			if edges[i] != nil && edges[i].Int(col) == r.Key.Int("added_at") {
				n++
			}
		}
		batch = batch[:0]
		return nil
	}
	err = s.db.Scan(ctx, tablestore.FavEntries.Name, tablestore.Range{
		Start: tablestore.K("user_id", userID, "folder_id", folderID, "added_at", tablestore.Min, "video_id", tablestore.Min),
		End:   tablestore.K("user_id", userID, "folder_id", folderID, "added_at", tablestore.Max, "video_id", tablestore.Max),
	}, func(r *tablestore.Row) error {
		batch = append(batch, r)
		if len(batch) == 100 {
			return flush()
		}
		return nil
	})
	if err == nil && len(batch) > 0 {
		err = flush()
	}
	return n, err
}
