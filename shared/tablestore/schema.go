package tablestore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	ts "github.com/aliyun/aliyun-tablestore-go-sdk/tablestore"
)

// KeyType is the type of a primary-key column.
type KeyType int

const (
	String KeyType = iota
	Integer
	Binary
)

// KeyDef is one primary-key column of a table definition.
type KeyDef struct {
	Name string
	Type KeyType
}

// Table is the definition of one table of the product.
type Table struct {
	Name string
	Key  []KeyDef
	// TTL expires cell versions this long after they were written; 0 keeps data forever.
	TTL time.Duration
	// MaxVersions kept per column; 0 means 1.
	MaxVersions int
	// Purpose says what the table holds, for `tables` output and readers of this file.
	Purpose string
}

func (t Table) maxVersions() int {
	if t.MaxVersions <= 0 {
		return 1
	}
	return t.MaxVersions
}

func (t Table) ttlSeconds() int {
	if t.TTL <= 0 {
		return -1
	}
	return int(t.TTL / time.Second)
}

// EnsureResult says what Ensure did (or Plan would do) to one table.
type EnsureResult struct {
	Table  string
	Action string // "created", "updated", "unchanged"; Plan says "create", "update", "unchanged"
	// Detail says what differs for an update ("ttl 0s → 24h0m0s"); empty otherwise.
	Detail string
}

// Ensure creates the tables that do not exist and updates TTL / max versions of those that do.
// It is idempotent, so deployments and the local cloud run it on every start. A table whose
// primary key differs from its definition is an error: keys cannot change in place.
func (c *Client) Ensure(ctx context.Context, tables []Table) ([]EnsureResult, error) {
	return c.ensure(ctx, tables, true)
}

// Plan reports what Ensure would do to each table without changing anything (a dry run).
// A table whose primary key differs is an error, as for Ensure.
func (c *Client) Plan(ctx context.Context, tables []Table) ([]EnsureResult, error) {
	return c.ensure(ctx, tables, false)
}

func (c *Client) ensure(ctx context.Context, tables []Table, apply bool) ([]EnsureResult, error) {
	cl, err := c.client(ctx)
	if err != nil {
		return nil, err
	}
	list, err := cl.ListTable()
	if err != nil {
		return nil, wrapErr("ListTable", "", err)
	}
	existing := map[string]bool{}
	for _, n := range list.TableNames {
		existing[n] = true
	}
	created, updated := "created", "updated"
	if !apply {
		created, updated = "create", "update"
	}
	var out []EnsureResult
	for _, t := range tables {
		if !existing[t.Name] {
			if apply {
				meta := &ts.TableMeta{TableName: t.Name}
				for _, k := range t.Key {
					meta.AddPrimaryKeyColumn(k.Name, sdkKeyType(k.Type))
				}
				_, err := cl.CreateTable(&ts.CreateTableRequest{
					TableMeta:          meta,
					TableOption:        &ts.TableOption{TimeToAlive: t.ttlSeconds(), MaxVersion: t.maxVersions()},
					ReservedThroughput: &ts.ReservedThroughput{},
				})
				if err != nil {
					var oe *ts.OtsError
					if !errors.As(err, &oe) || oe.Code != "OTSObjectAlreadyExist" { // created meanwhile by a parallel run
						return out, wrapErr("CreateTable", t.Name, err)
					}
				}
			}
			out = append(out, EnsureResult{Table: t.Name, Action: created})
			continue
		}
		desc, err := cl.DescribeTable(&ts.DescribeTableRequest{TableName: t.Name})
		if err != nil {
			return out, wrapErr("DescribeTable", t.Name, err)
		}
		if err := sameKey(t, desc.TableMeta); err != nil {
			return out, err
		}
		if desc.TableOption.TimeToAlive == t.ttlSeconds() && desc.TableOption.MaxVersion == t.maxVersions() {
			out = append(out, EnsureResult{Table: t.Name, Action: "unchanged"})
			continue
		}
		detail := optionDiff(desc.TableOption, t)
		if apply {
			_, err = cl.UpdateTable(&ts.UpdateTableRequest{TableName: t.Name,
				TableOption: &ts.TableOption{TimeToAlive: t.ttlSeconds(), MaxVersion: t.maxVersions()}})
			if err != nil {
				return out, wrapErr("UpdateTable", t.Name, err)
			}
		}
		out = append(out, EnsureResult{Table: t.Name, Action: updated, Detail: detail})
	}
	return out, nil
}

// optionDiff describes how a table's options differ from its definition.
func optionDiff(have *ts.TableOption, want Table) string {
	ttl := func(s int) string {
		if s < 0 {
			return "forever"
		}
		return (time.Duration(s) * time.Second).String()
	}
	var parts []string
	if have.TimeToAlive != want.ttlSeconds() {
		parts = append(parts, fmt.Sprintf("ttl %s → %s", ttl(have.TimeToAlive), ttl(want.ttlSeconds())))
	}
	if have.MaxVersion != want.maxVersions() {
		parts = append(parts, fmt.Sprintf("max versions %d → %d", have.MaxVersion, want.maxVersions()))
	}
	return strings.Join(parts, ", ")
}

func sdkKeyType(k KeyType) ts.PrimaryKeyType {
	switch k {
	case Integer:
		return ts.PrimaryKeyType_INTEGER
	case Binary:
		return ts.PrimaryKeyType_BINARY
	}
	return ts.PrimaryKeyType_STRING
}

func sameKey(t Table, meta *ts.TableMeta) error {
	if meta == nil || len(meta.SchemaEntry) != len(t.Key) {
		return fmt.Errorf("tablestore: table %s exists with a different primary key; keys cannot change in place", t.Name)
	}
	for i, k := range t.Key {
		e := meta.SchemaEntry[i]
		if e.Name == nil || *e.Name != k.Name || e.Type == nil || *e.Type != sdkKeyType(k.Type) {
			return fmt.Errorf("tablestore: table %s key column %d is not %s; keys cannot change in place", t.Name, i+1, k.Name)
		}
	}
	return nil
}
