package guard

import "testing"

// BenchmarkCheck measures the guard on a typical build command, the kind
// every task carries.
func BenchmarkCheck(b *testing.B) {
	g := mustNew(b, Policy{})
	const cmd = "cd /src/app && make -j8 build && go test -race ./... 2>&1 | tee build.log"
	b.ReportAllocs()
	for b.Loop() {
		if err := g.Check(cmd); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckScript measures a longer script with loops, substitutions,
// a heredoc and bash -c.
func BenchmarkCheckScript(b *testing.B) {
	g := mustNew(b, Policy{AllowList: []string{"make", "go", "git", "bash", "tar", "find", "sha256sum", "rm", "mkdir", "cat"}})
	const cmd = `set -euo pipefail
VERSION=$(git describe --tags --always)
OUT="dist/app-${VERSION}"
rm -rf "$OUT" && mkdir -p "$OUT"
for arch in amd64 arm64; do
	GOARCH=$arch go build -o "$OUT/app-$arch" ./cmd/app
done
bash -c 'cd dist && tar czf app.tgz app-*' 
find dist -type f -exec sha256sum {} + > dist/SUMS
cat <<EOF
built $VERSION
EOF`
	b.ReportAllocs()
	for b.Loop() {
		if err := g.Check(cmd); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckArgv measures argv mode.
func BenchmarkCheckArgv(b *testing.B) {
	g := mustNew(b, Policy{})
	argv := []string{"go", "test", "-race", "./..."}
	b.ReportAllocs()
	for b.Loop() {
		if err := g.CheckArgv(argv); err != nil {
			b.Fatal(err)
		}
	}
}
