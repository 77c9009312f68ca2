package guard_test

import (
	"errors"
	"fmt"

	"github.com/fabric-run/fabric/internal/guard"
)

func ExampleGuard_Check() {
	g, err := guard.New(guard.Policy{}) // the default policy
	if err != nil {
		panic(err)
	}
	fmt.Println(g.Check("cd ~/src/app && make -j8 && rm -rf ./build/tmp"))
	fmt.Println(g.Check("make clean; sudo rm -rf --no-preserve-root /"))
	fmt.Println(g.Check(`bash -c 'echo b > /proc/sysrq-trigger'`))

	err = g.Check("dd if=disk.img of=/dev/sdb bs=4M")
	var r *guard.Refusal
	if errors.As(err, &r) {
		fmt.Println(r.Rule, "|", r.Reason, "|", r.Fragment)
	}
	// Output:
	// <nil>
	// refused by rule "rm-root": --no-preserve-root lets rm delete "/" (in: sudo rm -rf --no-preserve-root /)
	// refused by rule "power": write to /proc/sysrq-trigger, which can reboot, power off or crash the kernel (in: echo b > /proc/sysrq-trigger)
	// block-device | write to block device "/dev/sdb" | dd if=disk.img of=/dev/sdb bs=4M
}

func ExampleNew() {
	g, err := guard.New(guard.Policy{
		AllowList: []string{"make", "go", "git"},
		DenyList:  []string{"curl"},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(g.Check("git pull && make test"))
	fmt.Println(g.Check("make test | tee log"))
	fmt.Println(g.CheckArgv([]string{"/usr/bin/go", "build", "./..."}))

	_, err = guard.New(guard.Policy{AllowList: []string{"/usr/bin/make"}})
	fmt.Println(errors.Is(err, guard.ErrInvalidPolicy))
	// Output:
	// <nil>
	// refused by rule "allowlist": program "tee" is not on the node's allow list (in: tee log)
	// <nil>
	// true
}
