// Command echo is a go1 test function for fclocal's own tests: it returns the event it got,
// and fails when the event asks it to.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aliyun/fc-runtime-go-sdk/fc"
)

func main() {
	fc.Start(func(ctx context.Context, ev json.RawMessage) (json.RawMessage, error) {
		fmt.Printf("echo got %s\n", ev)
		var in struct{ Fail bool }
		json.Unmarshal(ev, &in)
		if in.Fail {
			return nil, errors.New("asked to fail")
		}
		return ev, nil
	})
}
