# syntax=docker/dockerfile:1
#
# refract as a container image: a static binary on an empty base, run as a
# non-root user. Build and run:
#
#   docker build -t refract .
#   docker run --rm -p 8080:8080 -p 9901:9901 -v "$PWD/refract.yaml:/etc/refract/refract.yaml:ro" refract
#   docker run --rm -p 8080:8080 -p 9901:9901 refract -demo -listen 0.0.0.0:8080 -admin 0.0.0.0:9901
#
# Release builds pass the version: docker build --build-arg VERSION=v1.2.3
# --build-arg COMMIT=$(git rev-parse HEAD) --build-arg DATE=$(date -u +%FT%TZ) .

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION} AS build
WORKDIR /src
# Modules first: they change less often than the code, so this layer caches.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=""
ARG COMMIT=""
ARG DATE=""
# CGO off: a static binary that needs no libc in the image.
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X main.buildVersion=${VERSION} -X main.buildCommit=${COMMIT} -X main.buildDate=${DATE}" \
      -o /out/refract ./cmd/refract && \
    /out/refract version

# An empty base: the binary, CA roots for TLS to upstreams, JWKS and OTLP,
# and a non-root user (65532, "nonroot") with nothing to write to.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/refract /usr/local/bin/refract
USER 65532:65532
# 8080: the public listener; 9901: the admin listener (health, readiness,
# metrics). Listen on all interfaces inside the container: the config (or
# -listen/-admin) must say 0.0.0.0, since the defaults are loopback.
EXPOSE 8080 9901
ENTRYPOINT ["/usr/local/bin/refract"]
CMD ["-config", "/etc/refract/refract.yaml"]
