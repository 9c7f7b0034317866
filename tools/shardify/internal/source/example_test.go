package source_test

import (
	"fmt"

	"github.com/pairflow/pairflow/tools/shardify/internal/source"
)

func ExampleExpandBraces() {
	names, _ := source.ExpandBraces("laion/{00008..00010}.tar")
	fmt.Println(names)
	// Output: [laion/00008.tar laion/00009.tar laion/00010.tar]
}
