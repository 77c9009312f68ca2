package inventory_test

import (
	"fmt"

	"github.com/fabric-run/fabric/internal/inventory"
)

func ExampleParse() {
	inv, err := inventory.Parse("fabric.yaml", []byte(`
nodes:
  - name: nas
    host: nas.local
    addresses: [10.0.0.20]
    capabilities: [RAID]
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	n := inv.Nodes[0]
	fmt.Println(n.Name, n.Host, n.Port, n.Slots, n.Capabilities)

	_, err = inventory.Parse("fabric.yaml", []byte(`
nodes:
  - name: nas
    host: nas.local
    capabilities: [Raid Disk]
`))
	fmt.Println(err)
	// Output:
	// nas nas.local 22 2 [raid]
	// fabric.yaml:5: node "nas": capability "Raid Disk" is not a valid token
}
