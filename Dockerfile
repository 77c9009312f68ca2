# syntax=docker/dockerfile:1
#
# fabric in containers: static binaries (CGO_ENABLED=0) on a small Alpine
# runtime with bash, because tasks run under bash.
#
#   docker build -t fabric .                  # the runtime image: fabric-node by default
#   docker run --rm fabric fabric --version
#   docker build --target sshd -t fabric-sshd .   # a machine reachable only over SSH (compose.yaml)

ARG GO_VERSION=1.26.8
ARG ALPINE_VERSION=3.22

FROM golang:${GO_VERSION}-alpine AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ENV CGO_ENABLED=0
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -ldflags="-s -w" -o /out/fabric ./cmd/fabric && \
    go build -trimpath -ldflags="-s -w" -o /out/fabric-node ./cmd/node

# A machine that runs no fabric-node and is reached over SSH only: the SSH
# fallback's target in compose.yaml. sshd runs as root, as on a real host;
# logins are by key only, as user fabric, whose key compose generates.
FROM alpine:${ALPINE_VERSION} AS sshd
RUN apk add --no-cache bash openssh-server openssh-keygen && \
    adduser -D -u 10001 -s /bin/bash fabric && \
    # An unlocked account with no password: sshd refuses locked ones even for keys.
    sed -i 's/^fabric:!:/fabric:*:/' /etc/shadow && \
    ssh-keygen -A && \
    printf 'PasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin no\nAllowUsers fabric\n' >> /etc/ssh/sshd_config
EXPOSE 22
CMD ["/bin/sh", "-c", "install -d -m 700 -o fabric -g fabric /home/fabric/.ssh && install -m 600 -o fabric -g fabric /keys/id_ed25519.pub /home/fabric/.ssh/authorized_keys && exec /usr/sbin/sshd -D -e"]

# The runtime: fabric (front end) and fabric-node (worker), as a non-root
# user. tini is PID 1: it reaps the orphans tasks leave behind and passes
# SIGTERM on, which drains the node.
FROM alpine:${ALPINE_VERSION} AS runtime
RUN apk add --no-cache bash ca-certificates tini && \
    adduser -D -u 10001 -h /home/fabric -s /bin/bash fabric && \
    install -d -m 700 -o fabric -g fabric /home/fabric/.ssh && \
    # compose's auth volume takes this directory's owner when first created.
    install -d -m 700 -o fabric -g fabric /auth
COPY --from=build /out/fabric /out/fabric-node /usr/local/bin/
USER fabric
WORKDIR /home/fabric
ENTRYPOINT ["/sbin/tini", "--"]
CMD ["fabric-node"]
