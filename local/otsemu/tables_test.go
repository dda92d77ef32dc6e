package otsemu_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aliyun/aliyun-tablestore-go-sdk/tablestore"
)

func TestTableLifecycle(t *testing.T) {
	tg := suite(t)
	c := tg.client(0)
	name := tg.newTable(t, []pkDef{
		{"vid", tablestore.PrimaryKeyType_STRING, false},
		{"seq", tablestore.PrimaryKeyType_INTEGER, true},
		{"bin", tablestore.PrimaryKeyType_BINARY, false},
		{"n", tablestore.PrimaryKeyType_INTEGER, false},
	}, tableOpts{ttl: 86400 * 30, maxVersions: 3, deviation: 3600})

	d := must[*tablestore.DescribeTableResponse](t)(c.DescribeTable(&tablestore.DescribeTableRequest{TableName: name}))
	if d.TableMeta.TableName != name || len(d.TableMeta.SchemaEntry) != 4 {
		t.Fatalf("described meta %+v", d.TableMeta)
	}
	var schema []string
	for _, e := range d.TableMeta.SchemaEntry {
		s := fmt.Sprintf("%s:%d", *e.Name, *e.Type)
		if e.Option != nil {
			s += fmt.Sprintf(":opt%d", *e.Option)
		}
		schema = append(schema, s)
	}
	if got := strings.Join(schema, " "); got != "vid:2 seq:1:opt1 bin:3 n:1" {
		t.Fatalf("schema %q", got)
	}
	if o := d.TableOption; o.TimeToAlive != 86400*30 || o.MaxVersion != 3 || o.DeviationCellVersionInSec != 3600 {
		t.Fatalf("options %+v", o)
	}
	if d.ReservedThroughput.Readcap != 0 || d.ReservedThroughput.Writecap != 0 {
		t.Fatalf("throughput %+v", d.ReservedThroughput)
	}
	if d.StreamDetails == nil || d.StreamDetails.EnableStream {
		t.Fatalf("stream details %+v", d.StreamDetails)
	}

	list := must[*tablestore.ListTableResponse](t)(c.ListTable())
	if !slices.Contains(list.TableNames, name) || !slices.IsSorted(list.TableNames) {
		t.Fatalf("ListTable %v lacks %s", list.TableNames, name)
	}

	// UpdateTable changes TTL and max versions; the SDK reads every field of the answer.
	u := must[*tablestore.UpdateTableResponse](t)(c.UpdateTable(&tablestore.UpdateTableRequest{
		TableName:   name,
		TableOption: &tablestore.TableOption{TimeToAlive: -1, MaxVersion: 5},
	}))
	if u.TableOption.TimeToAlive != -1 || u.TableOption.MaxVersion != 5 || u.TableOption.DeviationCellVersionInSec != 3600 {
		t.Fatalf("update answered %+v", u.TableOption)
	}
	d = must[*tablestore.DescribeTableResponse](t)(c.DescribeTable(&tablestore.DescribeTableRequest{TableName: name}))
	if d.TableOption.TimeToAlive != -1 || d.TableOption.MaxVersion != 5 {
		t.Fatalf("after update %+v", d.TableOption)
	}

	_, err := c.CreateTable(&tablestore.CreateTableRequest{
		TableMeta:          &tablestore.TableMeta{TableName: name, SchemaEntry: d.TableMeta.SchemaEntry},
		TableOption:        &tablestore.TableOption{TimeToAlive: -1, MaxVersion: 1},
		ReservedThroughput: &tablestore.ReservedThroughput{},
	})
	wantErr(t, err, "OTSObjectAlreadyExist", 409, "Requested table already exists.")

	must[*tablestore.DeleteTableResponse](t)(c.DeleteTable(&tablestore.DeleteTableRequest{TableName: name}))
	_, err = c.DescribeTable(&tablestore.DescribeTableRequest{TableName: name})
	wantErr(t, err, "OTSObjectNotExist", 404, "Requested table does not exist.")
	_, err = c.DeleteTable(&tablestore.DeleteTableRequest{TableName: name})
	wantErr(t, err, "OTSObjectNotExist", 404, "Requested table does not exist.")
	_, err = c.GetRow(&tablestore.GetRowRequest{SingleRowQueryCriteria: &tablestore.SingleRowQueryCriteria{TableName: name, PrimaryKey: pk1("vid", "x"), MaxVersion: 1}})
	wantErr(t, err, "OTSObjectNotExist", 404, "Requested table does not exist.")
}

func TestReservedThroughputIsEchoed(t *testing.T) {
	tg := suite(t)
	if tg.real {
		t.Skip("reserved throughput needs a high-performance instance; skipped against real Tablestore")
	}
	c := tg.client(0)
	meta := &tablestore.TableMeta{TableName: fmt.Sprintf("cu_%s", runID)}
	meta.AddPrimaryKeyColumn("id", tablestore.PrimaryKeyType_STRING)
	must[*tablestore.CreateTableResponse](t)(c.CreateTable(&tablestore.CreateTableRequest{
		TableMeta: meta, TableOption: &tablestore.TableOption{TimeToAlive: -1, MaxVersion: 1},
		ReservedThroughput: &tablestore.ReservedThroughput{Readcap: 5, Writecap: 7},
	}))
	t.Cleanup(func() { c.DeleteTable(&tablestore.DeleteTableRequest{TableName: meta.TableName}) })
	d := must[*tablestore.DescribeTableResponse](t)(c.DescribeTable(&tablestore.DescribeTableRequest{TableName: meta.TableName}))
	if d.ReservedThroughput.Readcap != 5 || d.ReservedThroughput.Writecap != 7 {
		t.Fatalf("throughput %+v", d.ReservedThroughput)
	}
	u := must[*tablestore.UpdateTableResponse](t)(c.UpdateTable(&tablestore.UpdateTableRequest{
		TableName: meta.TableName, ReservedThroughput: &tablestore.ReservedThroughput{Readcap: 10, Writecap: 1},
	}))
	if u.ReservedThroughput.Readcap != 10 || u.ReservedThroughput.Writecap != 1 {
		t.Fatalf("updated throughput %+v", u.ReservedThroughput)
	}
}

func TestCreateTableValidation(t *testing.T) {
	tg := suite(t)
	c := tg.client(0)
	create := func(name string, pks []pkDef, ttl, maxVersions int) error {
		meta := &tablestore.TableMeta{TableName: name}
		for _, p := range pks {
			if p.auto {
				meta.AddPrimaryKeyColumnOption(p.name, p.typ, tablestore.AUTO_INCREMENT)
			} else {
				meta.AddPrimaryKeyColumn(p.name, p.typ)
			}
		}
		_, err := c.CreateTable(&tablestore.CreateTableRequest{
			TableMeta: meta, TableOption: &tablestore.TableOption{TimeToAlive: ttl, MaxVersion: maxVersions},
			ReservedThroughput: &tablestore.ReservedThroughput{},
		})
		if err == nil {
			c.DeleteTable(&tablestore.DeleteTableRequest{TableName: name})
		}
		return err
	}
	str := tablestore.PrimaryKeyType_STRING
	one := []pkDef{{"id", str, false}}
	for _, bad := range []string{"3t", "T#", "中文", "-"} {
		wantErr(t, create(bad, one, -1, 1), "OTSParameterInvalid", 400, fmt.Sprintf("Invalid table name: '%s'.", bad))
	}
	five := []pkDef{{"a", str, false}, {"b", str, false}, {"c", str, false}, {"d", str, false}, {"e", str, false}}
	wantErr(t, create("t_"+runID+"_5pk", five, -1, 1), "OTSParameterInvalid", 400, "The number of primary key columns must be in range: [1, 4].")
	wantErr(t, create("t_"+runID+"_dup", []pkDef{{"a", str, false}, {"a", str, false}}, -1, 1), "OTSParameterInvalid", 400, "Duplicated primary key name: 'a'.")
	wantErr(t, create("t_"+runID+"_ttl", one, 0, 1), "OTSParameterInvalid", 400, "The value of timeToLive can be -1 or any positive value.")
	wantErr(t, create("t_"+runID+"_ver", one, -1, 0), "OTSParameterInvalid", 400, "")
	wantErr(t, create("t_"+runID+"_auto", []pkDef{{"a", str, false}, {"b", str, true}}, -1, 1), "OTSParameterInvalid", 400, "")
}
