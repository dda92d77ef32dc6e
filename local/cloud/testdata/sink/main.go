// Command sink is an async destination for the end-to-end test: it prints the destination
// record it receives. It speaks the go1 runtime API through fc-runtime-go-sdk directly, since
// a destination record is neither an HTTP request nor an object or timer event.
package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aliyun/fc-runtime-go-sdk/fc"
)

func main() {
	fc.Start(func(ctx context.Context, record json.RawMessage) error {
		fmt.Printf("destination %s\n", record)
		return nil
	})
}
