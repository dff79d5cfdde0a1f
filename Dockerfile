# Build: docker build -t comagicd .   Run: see docker-compose.yml.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=docker
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/comagicd ./cmd/comagicd

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/comagicd /usr/local/bin/comagicd
EXPOSE 8080
USER nonroot
ENTRYPOINT ["/usr/local/bin/comagicd"]
CMD ["serve"]
