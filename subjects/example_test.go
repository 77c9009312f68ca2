package subjects_test

import (
	"fmt"

	"github.com/fabric-run/fabric/subjects"
)

func ExampleSpace_Task() {
	s := subjects.Default()
	subj, err := s.Task("linux", "amd64", "docker", "builder-1")
	fmt.Println(subj, err)
	_, err = s.Task("linux", "amd64", "docker", "builder.1")
	fmt.Println(err)
	// Output:
	// fabric.task.linux.amd64.docker.builder-1 <nil>
	// invalid subject token "builder.1": character '.' is not one of [a-z0-9_-]
}

func ExampleSpace_Parse() {
	sub, err := subjects.Default().Parse("fabric.heartbeat.builder-1")
	fmt.Println(sub.Kind, sub.Node, err)
	// Output: heartbeat builder-1 <nil>
}

func ExampleToken() {
	fmt.Println(subjects.Token("Marcs-Mac-Studio.local"))
	// Output: marcs-mac-studio-local
}
