package engagement

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"vodfc.dev/vodfc/httpapi"
	"vodfc.dev/vodfc/tablestore"
)

func (h *harness) folder(user, name string) Folder {
	h.t.Helper()
	var f Folder
	if code, _, b := h.call("POST", "/api/v1/me/favourites/folders", user, map[string]string{"name": name}, &f); code != 201 {
		h.t.Fatalf("creating folder %q: %d %s", name, code, b)
	}
	return f
}

func (h *harness) fav(method, user, folder, vid string) FavouriteState {
	h.t.Helper()
	var st FavouriteState
	if code, _, b := h.call(method, "/api/v1/me/favourites/folders/"+folder+"/videos/"+vid, user, nil, &st); code != 200 {
		h.t.Fatalf("%s %s %s %s: %d %s", method, user, folder, vid, code, b)
	}
	return st
}

func TestFavouriteCountCountsUsersNotFolderEntries(t *testing.T) {
	h := newHarness(t)
	vid := h.video("owner")
	music := h.folder("alice", "Music")
	if st := h.fav("PUT", "alice", DefaultFolder, vid); !st.Favourited || st.Favourites != 1 {
		t.Fatalf("first folder: %+v", st)
	}
	if st := h.fav("PUT", "alice", music.ID, vid); st.Favourites != 1 || len(st.Folders) != 2 {
		t.Fatalf("second folder of the same user: %+v", st)
	}
	if st := h.fav("PUT", "alice", music.ID, vid); st.Favourites != 1 {
		t.Fatalf("again: %+v", st)
	}
	if st := h.fav("PUT", "bob", DefaultFolder, vid); st.Favourites != 2 {
		t.Fatalf("another user: %+v", st)
	}
	if st := h.fav("DELETE", "alice", DefaultFolder, vid); !st.Favourited || st.Favourites != 2 {
		t.Fatalf("out of one of two folders: %+v", st)
	}
	if st := h.fav("DELETE", "alice", music.ID, vid); st.Favourited || st.Favourites != 1 {
		t.Fatalf("out of the last folder: %+v", st)
	}
	if st := h.fav("DELETE", "alice", music.ID, vid); st.Favourited || st.Favourites != 1 {
		t.Fatalf("again: %+v", st)
	}
	var fs struct{ Items []Folder }
	h.call("GET", "/api/v1/me/favourites/folders", "alice", nil, &fs)
	if len(fs.Items) != 2 || !fs.Items[0].Default || fs.Items[0].Count != 0 || fs.Items[1].Count != 0 {
		t.Fatalf("folders %+v", fs.Items)
	}
	if h.counts(vid).Favourites != 1 || h.rows(tablestore.VideoFavourites, "video_id", vid) != 1 {
		t.Fatalf("row %+v", h.counts(vid))
	}
}

func TestConcurrentFavouritesOfOneUserEndConsistent(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	vid := h.video("owner")
	a, _ := h.svc.CreateFolder(ctx, "alice", FolderInput{Name: ptr("a")})
	b, _ := h.svc.CreateFolder(ctx, "alice", FolderInput{Name: ptr("b")})
	folders := []string{DefaultFolder, a.ID, b.ID}
	var wg sync.WaitGroup
	for i := range 60 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f := folders[i%3]
			if i%2 == 0 {
				_, _ = h.svc.AddToFolder(ctx, "alice", f, vid)
			} else {
				_, _ = h.svc.RemoveFromFolder(ctx, "alice", f, vid)
			}
		}()
	}
	wg.Wait()
	users := h.rows(tablestore.VideoFavourites, "video_id", vid)
	edge, _ := h.db.Get(ctx, tablestore.VideoFavourites.Name, favKey(vid, "alice"))
	if users == 1 && len(edgeFolders(edge)) == 0 {
		users = 0 // an emptied edge whose removal lost a race with a refill
	}
	if got := h.counts(vid).Favourites; got != users {
		t.Fatalf("favourites %d, users %d", got, users)
	}
	for _, f := range folders {
		n, _ := h.svc.countFolder(ctx, "alice/"+f)
		got, _ := h.svc.folder(ctx, "alice", f)
		if got.Count != n {
			t.Fatalf("folder %s count %d, entries %d", f, got.Count, n)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func TestFolderVideosNewestFirst(t *testing.T) {
	h := newHarness(t)
	var ids []string
	for range 5 {
		id := h.video("owner")
		ids = append(ids, id)
		h.fav("PUT", "alice", DefaultFolder, id)
		h.advance(time.Second)
	}
	h.fav("DELETE", "alice", DefaultFolder, ids[2])
	var got []string
	cursor := ""
	for {
		var list httpapi.List[FolderEntry]
		if code, _, b := h.call("GET", "/api/v1/me/favourites/folders/default/videos?limit=3&cursor="+cursor, "alice", nil, &list); code != 200 {
			t.Fatalf("%d %s", code, b)
		}
		for _, it := range list.Items {
			got = append(got, it.VideoID)
		}
		if cursor = list.NextCursor; cursor == "" {
			break
		}
	}
	if want := fmt.Sprint([]string{ids[4], ids[3], ids[1], ids[0]}); fmt.Sprint(got) != want {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestDeleteFolderTakesItsVideosOut(t *testing.T) {
	h := newHarness(t)
	v1, v2 := h.video("o"), h.video("o")
	trip := h.folder("alice", "Trip")
	h.fav("PUT", "alice", trip.ID, v1)
	h.fav("PUT", "alice", trip.ID, v2)
	h.fav("PUT", "alice", DefaultFolder, v2)
	if code, _, b := h.call("DELETE", "/api/v1/me/favourites/folders/"+trip.ID, "alice", nil, nil); code != 204 {
		t.Fatalf("%d %s", code, b)
	}
	if c1, c2 := h.counts(v1).Favourites, h.counts(v2).Favourites; c1 != 0 || c2 != 1 {
		t.Fatalf("favourites %d %d", c1, c2)
	}
	if n := h.rows(tablestore.FavEntries, "user_id", "alice"); n != 1 {
		t.Fatalf("%d entries left", n)
	}
	code, hdr, b := h.call("GET", "/api/v1/me/favourites/folders/"+trip.ID+"/videos", "alice", nil, nil)
	h.problem(404, "folder_not_found", code, hdr, b)
}

// TestDeleteFolderFinishedByRollup: a deletion whose request died after hiding the folder is
// finished by the repair run.
func TestDeleteFolderFinishedByRollup(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	vid := h.video("o")
	f := h.folder("alice", "Old")
	h.fav("PUT", "alice", f.ID, vid)
	if _, err := h.svc.Ledger.BeginTask(ctx, taskFolderDelete, "alice/"+f.ID); err != nil {
		t.Fatal(err)
	}
	h.db.Update(ctx, tablestore.FavFolders.Name, tablestore.K("user_id", "alice", "folder_id", f.ID),
		tablestore.Change{Set: tablestore.Cols{colDeleting: true}}, tablestore.IfExists())
	// The request dies here.
	var fs struct{ Items []Folder }
	h.call("GET", "/api/v1/me/favourites/folders", "alice", nil, &fs)
	if len(fs.Items) != 1 {
		t.Fatalf("a folder being deleted is still listed: %+v", fs.Items)
	}
	if rep := h.repair(); rep.Tasks != 1 || rep.Cleared != 1 {
		t.Fatalf("repair %+v", rep)
	}
	if h.counts(vid).Favourites != 0 || h.rows(tablestore.FavFolders, "user_id", "alice") != 1 || h.rows(tablestore.FavEntries, "user_id", "alice") != 0 {
		t.Fatalf("after repair: %+v", h.counts(vid))
	}
}

func TestFolderRules(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxFolders = 3; c.MaxFolderEntries = 2 })
	vid := h.video("o")
	t.Run("a blank name is invalid_folder_name", func(t *testing.T) {
		code, hdr, b := h.call("POST", "/api/v1/me/favourites/folders", "alice", map[string]string{"name": " \t "}, nil)
		h.problem(400, "invalid_folder_name", code, hdr, b)
	})
	t.Run("a 41-character name is invalid_folder_name", func(t *testing.T) {
		code, hdr, b := h.call("POST", "/api/v1/me/favourites/folders", "alice", map[string]string{"name": strings.Repeat("名", 41)}, nil)
		h.problem(400, "invalid_folder_name", code, hdr, b)
	})
	t.Run("a 201-character description is invalid_folder_description", func(t *testing.T) {
		code, hdr, b := h.call("POST", "/api/v1/me/favourites/folders", "alice", map[string]string{"name": "x", "description": strings.Repeat("d", 201)}, nil)
		h.problem(400, "invalid_folder_description", code, hdr, b)
	})
	t.Run("an unknown field is unknown_field", func(t *testing.T) {
		code, hdr, b := h.call("POST", "/api/v1/me/favourites/folders", "alice", map[string]string{"name": "x", "colour": "red"}, nil)
		h.problem(400, "unknown_field", code, hdr, b)
	})
	t.Run("past MaxFolders is folder_limit", func(t *testing.T) {
		h.folder("alice", "one")
		h.folder("alice", "two") // with the default folder: three
		code, hdr, b := h.call("POST", "/api/v1/me/favourites/folders", "alice", map[string]string{"name": "three"}, nil)
		h.problem(409, "folder_limit", code, hdr, b)
	})
	t.Run("past MaxFolderEntries is folder_full", func(t *testing.T) {
		h.fav("PUT", "bob", DefaultFolder, vid)
		h.fav("PUT", "bob", DefaultFolder, h.video("o"))
		code, hdr, b := h.call("PUT", "/api/v1/me/favourites/folders/default/videos/"+h.video("o"), "bob", nil, nil)
		h.problem(409, "folder_full", code, hdr, b)
	})
	t.Run("someone else's folder is folder_not_found", func(t *testing.T) {
		f := h.folder("carol", "mine")
		code, hdr, b := h.call("PUT", "/api/v1/me/favourites/folders/"+f.ID+"/videos/"+vid, "alice", nil, nil)
		h.problem(404, "folder_not_found", code, hdr, b)
		code, hdr, b = h.call("PATCH", "/api/v1/me/favourites/folders/"+f.ID, "alice", map[string]string{"name": "theirs"}, nil)
		h.problem(404, "folder_not_found", code, hdr, b)
		code, hdr, b = h.call("DELETE", "/api/v1/me/favourites/folders/junk", "alice", nil, nil)
		h.problem(404, "folder_not_found", code, hdr, b)
	})
	t.Run("the default folder is default_folder_permanent", func(t *testing.T) {
		code, hdr, b := h.call("DELETE", "/api/v1/me/favourites/folders/default", "alice", nil, nil)
		h.problem(409, "default_folder_permanent", code, hdr, b)
	})
	t.Run("an empty change is nothing_to_change", func(t *testing.T) {
		code, hdr, b := h.call("PATCH", "/api/v1/me/favourites/folders/default", "alice", map[string]string{}, nil)
		h.problem(400, "nothing_to_change", code, hdr, b)
	})
	t.Run("renaming works", func(t *testing.T) {
		var f Folder
		if code, _, b := h.call("PATCH", "/api/v1/me/favourites/folders/default", "alice", map[string]string{"name": " Watch later "}, &f); code != 200 || f.Name != "Watch later" {
			t.Fatalf("%d %s", code, b)
		}
	})
	t.Run("favouriting a private video of someone else is video_not_found", func(t *testing.T) {
		code, hdr, b := h.call("PUT", "/api/v1/me/favourites/folders/default/videos/"+h.video("o", private), "dave", nil, nil)
		h.problem(404, "video_not_found", code, hdr, b)
	})
}

func TestDefaultFolderIsCreatedOnceUnderRacingFirstUses(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() { defer wg.Done(); _, _ = h.svc.Folders(ctx, "zed") }()
	}
	wg.Wait()
	fs, err := h.svc.Folders(ctx, "zed")
	if err != nil || len(fs) != 1 || !fs[0].Default || h.rows(tablestore.FavFolders, "user_id", "zed") != 1 {
		t.Fatalf("%+v %v", fs, err)
	}
}
