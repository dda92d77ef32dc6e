package cloud

import (
	"context"
	"fmt"

	"vodfc.dev/vodfc/runtime"
	"vodfc.dev/vodfc/tablestore"
)

// ensureTables creates or updates every table of the product in the Tablestore emulator, the
// same way `go run ./shared/cmd/tables` does against the cloud, so functions find their tables
// on the first request.
func (c *Cloud) ensureTables(ctx context.Context) error {
	db, err := c.TablestoreClient()
	if err != nil {
		return err
	}
	res, err := db.Ensure(ctx, tablestore.Schema)
	if err != nil {
		return fmt.Errorf("tables: %w", err)
	}
	for _, r := range res {
		if r.Action != "unchanged" {
			c.log.Info("table "+r.Action, "table", r.Table)
		}
	}
	return nil
}

// TablestoreClient is a product-side client of the emulator, in-process, with the local
// credentials: for setup code and tests that seed or inspect records.
func (c *Cloud) TablestoreClient() (*tablestore.Client, error) {
	creds := runtime.Credentials{AccessKeyID: c.Credentials.AccessKeyID, AccessKeySecret: c.Credentials.AccessKeySecret}
	return tablestore.New(tablestore.Config{Endpoint: c.OTSEndpoint, Instance: c.OTSInstance,
		Transport:   c.ots.Transport(),
		Credentials: func() (runtime.Credentials, bool) { return creds, true }})
}
